//! The scheduled jobs (`schedule.rs` names which cron runs which): syncing
//! every upstream source, and the daily garbage collection.

use worker::Env;

use super::schedule::{job, Job};
use super::{auth, sync, view};
use crate::storage::gc::GcSettings;
use crate::storage::Storage;

/// Runs the job of schedule `cron`; an unknown schedule is logged and
/// nothing runs.
pub async fn scheduled(cron: &str, env: &Env) {
    match job(cron) {
        Some(Job::Gc) => scheduled_gc(env).await,
        Some(Job::Sync) => scheduled_sync(env).await,
        None => worker::console_error!("no job runs on schedule `{cron}`; see http/schedule.rs"),
    }
}

/// Syncs every upstream source.
async fn scheduled_sync(env: &Env) {
    match Storage::from_env(env) {
        Ok(storage) => {
            let run_id = auth::random_bytes::<8>()
                .map(|b| format!("cron-{}", crate::http::request_log::format_request_id(&b)))
                .unwrap_or_else(|_| "cron".into());
            sync::sync_all(env, &storage, &run_id).await
        }
        Err(e) => worker::console_error!("scheduled sync failed: {e}"),
    }
}

/// How long audit entries are kept (`AUDIT_RETENTION_DAYS`, 400 by
/// default: a year's review and then some; at least one day).
fn audit_retention_days(env: &Env) -> i64 {
    env.var("AUDIT_RETENTION_DAYS")
        .ok()
        .and_then(|v| v.to_string().trim().parse::<i64>().ok())
        .unwrap_or(400)
        .max(1)
}

/// GC's settings: the deployment's advertisement window and audit
/// retention, with the given ages for entries and packs.
pub(crate) fn gc_settings(
    env: &Env,
    entries_min_age_secs: i64,
    pack_max_idle_secs: i64,
) -> GcSettings {
    GcSettings {
        entries_min_age_secs,
        pack_max_idle_secs,
        advertisement_window_secs: view::advertisement_window(env),
        audit_retention_days: audit_retention_days(env),
    }
}

/// The daily garbage collection with its safe defaults (see
/// `storage::gc`). Logs one line.
async fn scheduled_gc(env: &Env) {
    let settings = gc_settings(
        env,
        GcSettings::DEFAULT_ENTRIES_MIN_AGE_SECS,
        GcSettings::DEFAULT_PACK_MAX_IDLE_SECS,
    );
    let result = match Storage::from_env(env) {
        Ok(storage) => storage.collect_garbage(&settings).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(r) if r.deferred => worker::console_log!(
            "scheduled gc: entries deferred to a writer in progress; deleted {} idle packs, {} unreferenced segments, {} ended sessions and {} audit entries past retention",
            r.deleted_packs, r.deleted_segments, r.deleted_sessions, r.deleted_audit
        ),
        Ok(r) => worker::console_log!(
            "scheduled gc: deleted {} entries objects (kept {}), {} idle packs, {} unreferenced segments, {} ended sessions and {} audit entries past retention",
            r.deleted, r.kept, r.deleted_packs, r.deleted_segments, r.deleted_sessions, r.deleted_audit
        ),
        Err(e) => worker::console_error!("scheduled gc failed: {e}"),
    }
}
