//! `PUT /api/admin/marketplaces/{slug}`: a curated marketplace imported
//! from a `.zip` or `.tar.gz` of up to `IMPORT_LIMITS`.
//!
//! The body is piped into R2 by the runtime first (it never passes through
//! the isolate's memory), then read back: a `.tar.gz` as a stream, a ZIP by
//! ranges (its directory sits at its end). Files are hashed, compressed and
//! sealed into entries objects as they are read, so the isolate holds one
//! file and one chunk, never the archive.
//!
//! Invariants: everything is validated before D1 changes, in one batch; a
//! refused import leaves only unreferenced `entries/` objects (collected by
//! GC) and deletes its staged copy.

use futures_util::StreamExt;
use serde_json::json;
use worker::Request;

use super::error::{ApiError, ApiResult};
use super::json;
use super::segment_build::build_missing_segments;
use crate::catalog::archive::tar_gz::TarGzReader;
use crate::catalog::archive::zip_ranged::{ZipReader, ZipStep};
use crate::catalog::archive::{ArchiveFile, ArchiveFormat, IMPORT_LIMITS};
use crate::catalog::ingest::{version_plugins, Ingester, IMPORT_CHUNK_BYTES};
use crate::catalog::marketplace::{is_manifest, parse_marketplace, ImportError};
use crate::catalog::names::Slug;
use crate::catalog::served::ServedFile;
use crate::storage::Storage;

/// Imports the request's archive as marketplace `slug`.
pub async fn import(req: &mut Request, storage: &Storage, slug: &str) -> ApiResult {
    let slug = Slug::parse(slug)?;
    if storage.source(slug.as_str()).await?.is_some() {
        return Err(ApiError::new(
            409,
            "marketplace_synced",
            "this marketplace follows an upstream repository; remove its source (DELETE …/source) before importing an archive",
        ));
    }
    let limit = IMPORT_LIMITS.max_archive_bytes;
    let len = req
        .headers()
        .get("Content-Length")?
        .and_then(|l| l.parse::<u64>().ok())
        .ok_or_else(|| {
            ApiError::new(
                411,
                "length_required",
                "an import needs a Content-Length: send the archive as a file, not a chunked stream",
            )
        })?;
    if len > limit as u64 {
        return Err(ApiError::too_large(limit));
    }
    if len < 4 {
        return Err(ImportError::from(crate::catalog::archive::ArchiveError::UnknownFormat).into());
    }
    let body = req
        .inner()
        .body()
        .ok_or_else(|| ApiError::bad_request("empty_body", "the request has no body"))?;
    // A registered writer: GC never deletes what this import writes.
    let listed = storage
        .while_writing(async {
            let staged = storage.stage_upload(body).await?;
            let read = read_staged(storage, &staged, len).await;
            if let Err(e) = storage.delete_object(&staged).await {
                worker::console_error!("deleting staged upload {staged} failed: {e}");
            }
            replace_from(storage, slug.as_str(), read?).await
        })
        .await?;
    json(200, &listed)
}

/// Seals the ingester's last object, parses the marketplace and replaces
/// `slug`'s rows with it in one D1 batch; the import's summary.
pub(crate) async fn replace_from(
    storage: &Storage,
    slug: &str,
    ingester: Ingester,
) -> Result<serde_json::Value, ApiError> {
    let (last, mut ingested) = ingester.finish();
    if let Some(object) = last {
        storage.put_object(&object.key, object.bytes).await?;
    }
    let market = parse_marketplace(std::mem::take(&mut ingested.listing))?;
    let mut plugins: Vec<_> = market
        .plugins
        .into_iter()
        .map(|p| {
            let files = ingested.plugin(&p);
            (p, files)
        })
        .collect();
    // Content versions; rewritten plugin.json files go to R2 before the rows.
    if let Some(object) = version_plugins(&mut plugins) {
        storage.put_object(&object.key, object.bytes).await?;
    }
    for (p, _) in &mut plugins {
        p.files = Vec::new(); // the rows say everything now
    }
    // Pack segments for plugins new to the catalog (a re-import's unchanged
    // plugins have theirs), so no view's first fetch waits for one. Before
    // the rows: an import that fails from here leaves them unreferenced,
    // for GC, like its entries.
    let segments: Vec<(String, &[ServedFile])> = plugins
        .iter()
        .filter_map(|(p, f)| Some((p.name.to_string(), f.as_ref()?.files.as_slice())))
        .collect();
    build_missing_segments(storage, &segments).await;
    storage
        .replace_marketplace(&Slug::parse(slug)?, &market.name, &plugins)
        .await?;
    let listed: Vec<_> = plugins
        .iter()
        .map(|(p, f)| {
            json!({
                "name": p.name.as_str(),
                "manifest_name": p.manifest_name,
                "version": p.version,
                "external": p.external,
                "files": f.as_ref().map(|f| f.files.len()).unwrap_or(0),
            })
        })
        .collect();
    Ok(json!({ "slug": slug, "name": market.name, "plugins": listed }))
}

/// Adds `files`, writing any entries object they filled.
async fn ingest(
    storage: &Storage,
    ingester: &mut Ingester,
    files: Vec<ArchiveFile>,
) -> Result<(), ApiError> {
    for f in files {
        ingest_one(storage, ingester, f, None).await?;
    }
    Ok(())
}

/// Adds one file (with its pack entry, if it already has one), writing the
/// entries object it filled.
pub(crate) async fn ingest_one(
    storage: &Storage,
    ingester: &mut Ingester,
    file: ArchiveFile,
    stored: Option<Vec<u8>>,
) -> Result<(), ApiError> {
    if let Some(object) = ingester.add_with_entry(file, stored) {
        storage.put_object(&object.key, object.bytes).await?;
    }
    Ok(())
}

/// Reads the staged archive (`len` bytes at `key`) into an ingester,
/// writing each sealed entries object as soon as it fills.
async fn read_staged(storage: &Storage, key: &str, len: u64) -> Result<Ingester, ApiError> {
    let refused = |e| ApiError::from(ImportError::from(e));
    let mut ingester = Ingester::new(IMPORT_CHUNK_BYTES, is_manifest);
    let head = storage.get_range(key, 0, 4).await?;
    match ArchiveFormat::detect(&head).map_err(refused)? {
        ArchiveFormat::TarGz => {
            let mut tar = TarGzReader::new(IMPORT_LIMITS);
            let mut chunks = storage.get_stream(key).await?;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| ApiError::internal(e.to_string()))?;
                let files = tar.push(&chunk).map_err(refused)?;
                ingest(storage, &mut ingester, files).await?;
            }
            let files = tar.finish().map_err(refused)?;
            ingest(storage, &mut ingester, files).await?;
        }
        ArchiveFormat::Zip => {
            let mut zip = ZipReader::new(len, IMPORT_LIMITS).map_err(refused)?;
            loop {
                match zip.next().map_err(refused)? {
                    ZipStep::File(f) => ingest(storage, &mut ingester, vec![f]).await?,
                    ZipStep::Need { offset, len } => {
                        zip.supply(offset, storage.get_range(key, offset, len).await?)
                    }
                    ZipStep::Done => break,
                }
            }
        }
    }
    Ok(ingester)
}
