//! `/api/admin/gc`, `/api/admin/cache…` and `/api/admin/runtime`: garbage
//! collection, the pack cache and its purges (with the zone purge), and
//! the isolate's memory.

use serde::Deserialize;
use serde_json::json;
use worker::{Env, Request};

use super::{newest_first, next_page};
use crate::catalog::etag::Etag;
use crate::catalog::names::PluginKey;
use crate::http::error::{ApiError, ApiResult};
use crate::http::route::Cache;
use crate::http::{json, read_json, Query};
use crate::storage::edge::ZonePurge;
use crate::storage::gc::GcSettings;
use crate::storage::local_dev::test_hook;
use crate::storage::Storage;

#[derive(Deserialize)]
struct GcBody {
    /// Only objects at least this old are collected (default one hour).
    min_age_seconds: Option<i64>,
    /// Cached packs not served for this long are dropped (default 30 days).
    pack_max_idle_seconds: Option<i64>,
}

/// What to purge: exactly one of everything, one view's ETag, or every
/// view serving one curated plugin.
#[derive(Deserialize)]
struct PurgeBody {
    #[serde(default)]
    all: bool,
    etag: Option<String>,
    plugin: Option<String>,
}

/// The zone purge API, when `CF_ZONE_ID` (var) and `CF_API_TOKEN` (secret)
/// are set. `CF_API_BASE` overrides the API's address under local
/// development only (a test hook).
fn zone_purge(env: &Env) -> Option<ZonePurge> {
    let value = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    Some(ZonePurge {
        zone_id: value(env.var("CF_ZONE_ID").ok().map(|v| v.to_string()))?,
        token: value(env.secret("CF_API_TOKEN").ok().map(|v| v.to_string()))?,
        api_base: test_hook(env, "CF_API_BASE")
            .unwrap_or_else(|| "https://api.cloudflare.com/client/v4".into()),
    })
}

/// Answers one `Cache` route.
pub(super) async fn route(
    mut req: Request,
    env: &Env,
    storage: &Storage,
    route: Cache,
) -> ApiResult {
    match route {
        Cache::Runtime => json(
            200,
            &json!({ "wasm_memory_bytes": crate::storage::timing::wasm_memory_bytes() }),
        ),
        Cache::Gc => {
            let body: GcBody = read_json(&mut req).await?;
            let min_age = body
                .min_age_seconds
                .unwrap_or(GcSettings::DEFAULT_ENTRIES_MIN_AGE_SECS);
            if min_age < 0 {
                return Err(ApiError::bad_request(
                    "bad_gc",
                    "min_age_seconds must not be negative",
                ));
            }
            let max_idle = body
                .pack_max_idle_seconds
                .unwrap_or(GcSettings::DEFAULT_PACK_MAX_IDLE_SECS);
            if max_idle < 0 {
                return Err(ApiError::bad_request(
                    "bad_gc",
                    "pack_max_idle_seconds must not be negative",
                ));
            }
            let settings = crate::http::cron::gc_settings(env, min_age, max_idle);
            json(200, &storage.collect_garbage(&settings).await?)
        }
        Cache::List => {
            let (before, limit) = newest_first(&Query::of(&req)?)?;
            let packs = storage.cached_packs(before, limit).await?;
            let next = next_page(&packs, limit, |p| p.id);
            json(200, &json!({ "packs": packs, "next_before": next }))
        }
        Cache::Purge => {
            let body: PurgeBody = read_json(&mut req).await?;
            let bad = |why: &str| {
                ApiError::bad_request(
                    "bad_purge",
                    format!("{why}: send one of {{\"all\": true}}, {{\"etag\": \"<16 hex digits>\"}} or {{\"plugin\": \"<slug>/<plugin>\"}}"),
                )
            };
            let (deleted, views) = match (body.all, body.etag.as_deref(), body.plugin.as_deref()) {
                (true, None, None) => storage.purge_all_packs().await?,
                (false, Some(etag), None) => {
                    let etag = Etag::parse(etag).ok_or_else(|| bad("not an ETag"))?;
                    (storage.purge_etag(&etag).await?, vec![etag])
                }
                (false, None, Some(plugin)) => {
                    let (slug, name) = plugin
                        .split_once('/')
                        .ok_or_else(|| bad("not <slug>/<plugin>"))?;
                    let key = PluginKey::parse(slug, name)?;
                    let mut deleted = 0;
                    let views = storage.views_serving(&key.to_string()).await?;
                    for etag in &views {
                        deleted += storage.purge_etag(etag).await?;
                    }
                    (deleted, views)
                }
                _ => return Err(bad("exactly one selector is needed")),
            };
            // Other data centres' edge copies go through the zone's purge API.
            let zone = match zone_purge(env) {
                None => "not_configured",
                Some(_) if views.is_empty() => "nothing_to_purge",
                Some(z) => match storage.purge_zone_tags(&z, &views).await {
                    Ok(()) => "purged",
                    Err(e) => {
                        worker::console_error!("zone purge failed: {e}");
                        "failed"
                    }
                },
            };
            let views: Vec<&str> = views.iter().map(Etag::as_str).collect();
            json(
                200,
                &json!({ "deleted": deleted, "views": views, "zone_purge": zone }),
            )
        }
    }
}
