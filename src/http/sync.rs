//! Syncing a curated marketplace from its upstream git repository: on
//! demand, from a push webhook, or on the cron schedule.
//!
//! A sync takes the marketplace's lease, asks the remote for its refs and
//! resolves the source's ref; when that commit is the one already served
//! it stops (no pack is fetched, the catalog is untouched). Otherwise it
//! fetches the commit at depth 1, reads the pack and the tree at the commit
//! under the archive's rules, and hands the files to the same ingest and
//! one-batch replacement as an archive import. Any failure leaves what was
//! served in place and is recorded, code and words, on the source.

use serde_json::{json, Value};
use worker::Env;

use super::error::ApiError;
use super::import::{ingest_one, replace_from};
use super::remote::Remote;
use crate::catalog::archive::IMPORT_LIMITS;
use crate::catalog::ingest::{Ingester, IMPORT_CHUNK_BYTES};
use crate::catalog::marketplace::is_manifest;
use crate::catalog::upstream::UpstreamTree;
use crate::credentials::basic_authorization;
use crate::git::unpack::{UnpackLimits, Unpacked};
use crate::storage::sources::SourceRow;
use crate::storage::Store;

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

/// Syncs marketplace `slug` now; its source's state afterwards, or why the
/// sync failed (also recorded on the source).
pub async fn sync(env: &Env, store: &Store, slug: &str) -> Result<Value, ApiError> {
    let src = store.source(slug).await?.ok_or_else(|| {
        ApiError::new(
            404,
            "no_source",
            format!("marketplace `{slug}` follows no upstream repository"),
        )
    })?;
    if !store.take_lease(slug).await? {
        return Err(ApiError::new(
            409,
            "sync_in_progress",
            format!("a sync of `{slug}` is already running; try again when it ends"),
        ));
    }
    match run(env, store, &src).await {
        Ok(commit) => store.sync_succeeded(slug, &commit).await?,
        Err(e) => {
            store.sync_failed(slug, e.code, &e.message).await?;
            return Err(e);
        }
    }
    let after = store
        .source(slug)
        .await?
        .ok_or_else(|| ApiError::missing("the source"))?;
    Ok(source_json(&after))
}

/// Syncs every source in turn (the cron job); logs one line each.
pub async fn sync_all(env: &Env, store: &Store) {
    let sources = match store.sources().await {
        Ok(s) => s,
        Err(e) => {
            worker::console_error!("scheduled sync: listing sources failed: {e}");
            return;
        }
    };
    for src in sources {
        match sync(env, store, &src.slug).await {
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

/// The sync itself; the upstream commit now served.
async fn run(env: &Env, store: &Store, src: &SourceRow) -> Result<String, ApiError> {
    let auth = match &src.auth_secret {
        Some(name) => {
            let secret = env.secret(name).map_err(|_| {
                ApiError::new(
                    422,
                    "missing_secret",
                    format!("the Worker has no secret `{name}`: run `wrangler secret put {name}`"),
                )
            })?;
            Some(basic_authorization(&secret.to_string()))
        }
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
        && store.marketplace_exists(&src.slug).await?
    {
        return Ok(hex);
    }
    let pack = remote.fetch(&proto, &commit).await?;
    // A registered writer: GC never deletes what this sync writes.
    store
        .while_writing(ingest_pack(store, &src.slug, pack, &commit))
        .await?;
    Ok(hex)
}

/// Ingests the tree at `commit` from `pack` as marketplace `slug`.
async fn ingest_pack(
    store: &Store,
    slug: &str,
    pack: Vec<u8>,
    commit: &crate::git::ObjectId,
) -> Result<(), ApiError> {
    let mut ingester = Ingester::new(IMPORT_CHUNK_BYTES, is_manifest);
    {
        let mut unpacked = Unpacked::parse(&pack, UNPACK_LIMITS)
            .map_err(crate::catalog::upstream::UpstreamError::from)?;
        let mut tree = UpstreamTree::list(&mut unpacked, commit, IMPORT_LIMITS)?;
        while let Some((f, stored)) = tree.next_file(&mut unpacked)? {
            ingest_one(store, &mut ingester, f, stored).await?;
        }
    }
    drop(pack);
    replace_from(store, slug, ingester).await?;
    Ok(())
}
