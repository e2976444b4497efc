//! Syncing a curated marketplace from its upstream git repository: on
//! demand, from a push webhook, or on the cron schedule.
//!
//! A sync takes the marketplace's lease, asks the remote for its refs and
//! resolves the source's ref; when that commit is the one already served
//! it stops (no pack is fetched, the catalog is untouched). Otherwise it
//! fetches the commit at depth 1 into R2 as it arrives (staged, never held
//! whole), reads the pack back by windows and the tree at the commit under
//! the archive's rules, and hands the files to the same ingest and
//! one-batch replacement as an archive import. Any failure leaves what was
//! served in place and is recorded, code and words, on the source.

use serde_json::{json, Value};
use worker::Env;

use super::error::ApiError;
use super::import::{ingest_one, replace_from};
use super::remote::{Remote, StagedPack};
use crate::catalog::archive::IMPORT_LIMITS;
use crate::catalog::auth::credentials::basic_authorization;
use crate::catalog::ingest::{Ingester, IMPORT_CHUNK_BYTES};
use crate::catalog::marketplace::is_manifest;
use crate::catalog::secret_name::SecretName;
use crate::catalog::upstream::{UpstreamError, UpstreamTree};
use crate::git::unpack::{PackWindows, UnpackError, UnpackLimits, Unpacked};
use crate::storage::audit::NewAuditEntry;
use crate::storage::sources::SourceRow;
use crate::storage::uploads::Staged;
use crate::storage::Storage;

/// What an upstream pack may make the reader do: the import's file limits,
/// plus room for trees, the commit and deltas.
const UNPACK_LIMITS: UnpackLimits = UnpackLimits {
    max_objects: 3 * IMPORT_LIMITS.max_files as u32,
    max_object_bytes: IMPORT_LIMITS.max_file_bytes as u64 * 2,
    max_total_bytes: IMPORT_LIMITS.max_total_bytes as u64 * 4,
    max_delta_depth: 4096,
};

/// The source as the admin API shows it: names of secrets, never secrets.
pub fn source_json(src: &SourceRow) -> Value {
    json!({
        "url": src.url,
        "ref": src.git_ref,
        "auth_secret": src.auth_secret,
        "webhook_secret": src.webhook_secret,
        "syncing": src.lease_until.is_some(),
        "last_attempt_at": src.last_attempt_at,
        "last_success_at": src.last_success_at,
        "upstream_commit": src.upstream_commit,
        "last_error": src.last_error_code.as_ref().map(|code| json!({
            "code": code,
            "message": src.last_error_message,
        })),
    })
}

/// Who started a sync. An admin's is audited with their request (by the
/// router); a webhook's and the schedule's are audited here, with the
/// upstream commit and the outcome, since no admin request carries them.
#[derive(Debug, Clone, Copy)]
pub enum Trigger<'a> {
    Admin,
    /// A verified push webhook, with the id of the request that carried it.
    Webhook(&'a str),
    /// The cron schedule, with the id its run logs under.
    Cron(&'a str),
}

/// What a finished sync did.
struct Synced {
    /// The upstream commit now served.
    commit: String,
    /// Whether the catalog changed (false: that commit was served already).
    changed: bool,
}

/// Syncs marketplace `slug` now; its source's state afterwards, or why the
/// sync failed (also recorded on the source).
pub async fn sync(
    env: &Env,
    storage: &Storage,
    slug: &str,
    trigger: Trigger<'_>,
) -> Result<Value, ApiError> {
    let result = sync_once(env, storage, slug).await;
    audit(storage, slug, trigger, &result).await;
    result.map(|(state, _)| state)
}

/// Records a webhook or cron sync in the audit log (an admin's request is
/// recorded by the router).
async fn audit(
    storage: &Storage,
    slug: &str,
    trigger: Trigger<'_>,
    result: &Result<(Value, Synced), ApiError>,
) {
    let (actor, request_id) = match trigger {
        Trigger::Admin => return,
        Trigger::Webhook(id) => ("webhook", id),
        Trigger::Cron(id) => ("cron", id),
    };
    let (status, detail) = match result {
        Ok((_, done)) => (
            200,
            json!({
                "upstream_commit": done.commit,
                "outcome": if done.changed { "served" } else { "unchanged" },
            }),
        ),
        Err(e) => (
            e.status,
            json!({ "outcome": "failed", "error": { "code": e.code, "message": e.message } }),
        ),
    };
    let target = format!("admin/marketplaces/{slug}/sync");
    let detail = detail.to_string();
    let entry = NewAuditEntry {
        request_id,
        actor,
        actor_id: None,
        action: "source.sync",
        target: &target,
        status,
        detail: Some(&detail),
    };
    if let Err(e) = storage.record_audit(&entry).await {
        worker::console_error!("auditing the {actor} sync of {slug} failed: {e}");
    }
}

/// Takes the lease, syncs, and records the outcome on the source.
async fn sync_once(env: &Env, storage: &Storage, slug: &str) -> Result<(Value, Synced), ApiError> {
    let src = storage.source(slug).await?.ok_or_else(|| {
        ApiError::new(
            404,
            "no_source",
            format!("marketplace `{slug}` follows no upstream repository"),
        )
    })?;
    let Some(lease) = storage.take_lease(slug).await? else {
        return Err(ApiError::new(
            409,
            "sync_in_progress",
            format!("a sync of `{slug}` is already running; try again when it ends"),
        ));
    };
    let outcome = run(env, storage, &src).await;
    storage.failpoint(&format!("sync-end:{slug}")).await;
    let done = match outcome {
        Ok(done) => {
            storage.sync_succeeded(&lease, &done.commit).await?;
            done
        }
        Err(e) => {
            storage.sync_failed(&lease, e.code, &e.message).await?;
            return Err(e);
        }
    };
    let after = storage
        .source(slug)
        .await?
        .ok_or_else(|| ApiError::missing("the source"))?;
    Ok((source_json(&after), done))
}

/// Syncs every source in turn (the cron job); logs one line each.
pub async fn sync_all(env: &Env, storage: &Storage, run_id: &str) {
    let sources = match storage.sources().await {
        Ok(s) => s,
        Err(e) => {
            worker::console_error!("scheduled sync: listing sources failed: {e}");
            return;
        }
    };
    for src in sources {
        match sync(env, storage, &src.slug, Trigger::Cron(run_id)).await {
            Ok(state) => worker::console_log!(
                "scheduled sync of {}: serving {}",
                src.slug,
                state["upstream_commit"]
            ),
            Err(e) => {
                worker::console_error!("scheduled sync of {}: {} ({})", src.slug, e.message, e.code)
            }
        }
    }
}

/// The value of the Worker secret a stored source names. Only `UPSTREAM_…`
/// secrets are ever read: a source stored before that rule, naming another
/// one, fails with `secret_not_allowed` until an admin changes it.
pub fn upstream_secret(env: &Env, stored_name: &str) -> Result<String, ApiError> {
    let name =
        SecretName::parse(stored_name).map_err(|e| ApiError::new(422, e.code(), e.to_string()))?;
    env.secret(name.as_str())
        .map(|s| s.to_string())
        .map_err(|_| {
            ApiError::new(
                422,
                "missing_secret",
                format!("the Worker has no secret `{name}`: run `wrangler secret put {name}`"),
            )
        })
}

/// The sync itself: the upstream commit now served, and whether it is new.
async fn run(env: &Env, storage: &Storage, src: &SourceRow) -> Result<Synced, ApiError> {
    let auth = match &src.auth_secret {
        Some(name) => Some(basic_authorization(&upstream_secret(env, name)?)),
        None => None,
    };
    let mut remote = Remote::new(&src.url, auth)?;
    let (refs, proto) = remote.refs().await?;
    let commit = refs.resolve(src.git_ref.as_deref()).ok_or_else(|| {
        ApiError::new(
            422,
            "upstream_ref_not_found",
            format!(
                "the upstream has no {}",
                src.git_ref
                    .as_deref()
                    .map(|r| format!("ref `{r}`"))
                    .unwrap_or_else(|| "HEAD".into())
            ),
        )
    })?;
    let hex = commit.to_hex();
    // Already served: stop before any pack (the marketplace may have been
    // deleted since, which needs the content again).
    if src.upstream_commit.as_deref() == Some(hex.as_str())
        && storage.marketplace_exists(&src.slug).await?
    {
        return Ok(Synced {
            commit: hex,
            changed: false,
        });
    }
    // A registered writer: GC never deletes what this sync writes (the
    // staged pack included).
    storage
        .while_writing(async {
            let fetched = remote.fetch_staged(storage, &proto, &commit).await?;
            let key = match &fetched.staged {
                Staged::R2(key) => Some(key.clone()),
                Staged::Memory(_) => None,
            };
            let ingested = ingest_staged(storage, &src.slug, fetched, &commit).await;
            if let Some(key) = key {
                if let Err(e) = storage.delete_object(&key).await {
                    worker::console_error!("deleting staged pack {key} failed: {e}");
                }
            }
            ingested
        })
        .await?;
    Ok(Synced {
        commit: hex,
        changed: true,
    })
}

/// What a sync holds of a staged pack at once: one window of
/// `WINDOW_BYTES` (an entry larger than that is read whole), and the next
/// while it replaces it. A pack is read mostly in order, so one suffices.
const WINDOW_BUDGET: usize = WINDOW_BYTES;
/// Bytes a window read asks for at least.
const WINDOW_BYTES: usize = 8 << 20;
/// Window reads one sync may make: each is an R2 read, and an invocation
/// may make about a thousand subrequests.
const MAX_WINDOW_READS: usize = 600;

/// A staged pack being read, and the R2 reads it cost so far.
struct StagedReader<'a> {
    storage: &'a Storage,
    key: &'a str,
    pack: Unpacked<PackWindows>,
    reads: usize,
}

impl StagedReader<'_> {
    /// Runs `step` on the pack, loading the windows it asks for, until it
    /// ends (each step resumes where a load stopped it).
    async fn run<T>(
        &mut self,
        mut step: impl FnMut(&mut Unpacked<PackWindows>) -> Result<T, UpstreamError>,
    ) -> Result<T, ApiError> {
        loop {
            match step(&mut self.pack) {
                Err(UpstreamError::Pack(UnpackError::Need { offset, len })) => {
                    self.reads += 1;
                    if self.reads > MAX_WINDOW_READS {
                        return Err(ApiError::new(
                            422,
                            "upstream_pack_scattered",
                            format!(
                                "reading the upstream's pack took more than {MAX_WINDOW_READS} reads of its staged copy \
                                 (its objects lie too far from one another); repack the repository (`git gc`) and sync again"
                            ),
                        ));
                    }
                    self.pack.source_mut().make_room(len);
                    let bytes = self
                        .storage
                        .get_range(self.key, offset as u64, len as u64)
                        .await?;
                    if bytes.len() != len {
                        return Err(ApiError::internal(format!(
                            "the staged pack {} gave {} bytes for {len}",
                            self.key,
                            bytes.len()
                        )));
                    }
                    self.pack.source_mut().supply(offset, bytes);
                }
                other => return Ok(other?),
            }
        }
    }
}

/// Ingests the tree at `commit` from the fetched pack as marketplace
/// `slug`, reading a staged pack by windows.
async fn ingest_staged(
    storage: &Storage,
    slug: &str,
    fetched: StagedPack,
    commit: &crate::git::ObjectId,
) -> Result<(), ApiError> {
    let len = fetched.len;
    let (windows, key) = match fetched.staged {
        // All of it is one window, never read again.
        Staged::Memory(bytes) => {
            let mut whole = PackWindows::new(len, len, len);
            whole.supply(0, bytes);
            (whole, String::new())
        }
        Staged::R2(key) => {
            let mut windows = PackWindows::new(len, WINDOW_BYTES, WINDOW_BUDGET);
            let first = WINDOW_BYTES.min(len);
            windows.supply(0, storage.get_range(&key, 0, first as u64).await?);
            (windows, key)
        }
    };
    let mut reader = StagedReader {
        storage,
        key: &key,
        pack: Unpacked::open(windows, UNPACK_LIMITS).map_err(UpstreamError::from)?,
        reads: 0,
    };
    reader.run(|u| Ok(u.index()?)).await?;
    reader.run(|u| Ok(u.name()?)).await?;
    let mut tree = reader
        .run(|u| UpstreamTree::list(u, commit, IMPORT_LIMITS))
        .await?;
    let mut ingester = Ingester::new(IMPORT_CHUNK_BYTES, is_manifest);
    while let Some((f, stored)) = reader.run(|u| tree.next_file(u)).await? {
        ingest_one(storage, &mut ingester, f, stored).await?;
    }
    worker::console_log!(
        "sync of {slug}: read the {len} byte pack in {} window reads",
        reader.reads
    );
    drop(reader);
    replace_from(storage, slug, ingester).await?;
    Ok(())
}
