//! A pack built for a request, streamed: its bytes go, as they are
//! produced, to the client (framed as it asked) and, for the pack of a
//! whole snapshot (a cache miss), into `packs/<etag>` in R2 (in the stored
//! form: side-band-64k packets and a flush, which a later hit pipes
//! untouched). A partial fetch (the client sent `have`s) streams the same
//! way and is not stored. `plan` is the one walk over the objects' sources.
//!
//! Invariants: memory holds a few plugins' entries objects (read ahead,
//! `PREFETCH_DEPTH` at a time) and a few chunks of `CHUNK_BYTES`, not the
//! pack; the pack's length is known before the first byte (fresh
//! objects are compressed up front, entry lengths come from D1), so R2
//! receives a fixed-length stream and stores nothing unless every byte
//! arrived; a failure mid-pack reaches the client as a band-3 error.

use futures_util::{future, StreamExt};
use worker::{Context, Env, FixedLengthStream, Response};

use super::error::{ApiError, ApiResult};
use super::git::git_headers;
use super::native_sha1::NativeSha1;
use super::tee::Tee;
use super::view::View;
use crate::catalog::served::EntryRef;
use crate::catalog::snapshot::ObjectSource;
use crate::git::pack::{PackEntry, PackWriter, DEFAULT_LEVEL};
use crate::git::sideband::{framed_len, SideBandFramer, MAX_PAYLOAD_64K};
use crate::git::upload_pack::{band_error, PackFramer, PackResponse};
use crate::git::{ObjectId, ObjectKind};
use crate::storage::entries::{first_use_order, EntryReader};
use crate::storage::pack_cache::CachedView;
use crate::storage::Storage;

/// Pack bytes gathered before a chunk goes out. Each chunk crosses into the
/// runtime twice (client and R2), which costs tens of microseconds; one
/// chunk per object made a 4,000-file miss spend most of its time there.
pub(crate) const CHUNK_BYTES: usize = 128 << 10;

pub(crate) enum Part {
    /// A synthesized object, already compressed.
    Fresh(Vec<u8>),
    /// Bytes `entry` of R2 object `object`.
    Entry { object: String, entry: EntryRef },
}

/// Compresses the synthesized objects and lays out every part of the pack.
pub(crate) fn plan(view: &View, objects: &[ObjectId]) -> Result<(Vec<Part>, u64), ApiError> {
    let mut total = 12 + 20;
    let mut parts = Vec::with_capacity(objects.len());
    for id in objects {
        let part = match view.snapshot.source(id) {
            // Trees are kept uncompressed (see `PackEntry::stored`).
            Some(ObjectSource::Fresh(ObjectKind::Tree, body)) => {
                Part::Fresh(PackEntry::stored(ObjectKind::Tree, body).into_bytes())
            }
            Some(ObjectSource::Fresh(kind, body)) => {
                Part::Fresh(PackEntry::compress(kind, body, DEFAULT_LEVEL).into_bytes())
            }
            Some(ObjectSource::Entry { object, entry }) => Part::Entry {
                object: object.to_string(),
                entry,
            },
            None => {
                return Err(ApiError::internal(format!(
                    "object {id} is not in the snapshot"
                )))
            }
        };
        total += match &part {
            Part::Fresh(b) => b.len() as u64,
            Part::Entry { entry, .. } => entry.len,
        };
        parts.push(part);
    }
    Ok((parts, total))
}

/// Answers a fetch by streaming its pack to the client (kept alive with
/// `ctx.wait_until`); a whole-snapshot pack (`cache`) is stored in R2 at
/// the same time, a partial one (the client sent `have`s) only streams.
pub fn stream_pack(
    ctx: &Context,
    env: &Env,
    view: View,
    p: &PackResponse,
    content_type: &str,
    cache: bool,
) -> ApiResult {
    if !view.snapshot.segment_slots().is_empty() {
        // A plugin loaded without files: its objects are not in hand.
        return Err(ApiError::internal(
            "a view to build whole lacks some plugins' files".to_string(),
        ));
    }
    let (parts, total_len) = plan(&view, &p.objects)?;
    let count = p.objects.len() as u32;
    let (mut framing, head) = PackFramer::start(p);
    let (etag, commit, tree, plugins) = (
        view.snapshot.etag.clone(),
        view.snapshot.commit_id.to_hex(),
        view.snapshot.tree_id.to_hex(),
        view.curated_keys(),
    );
    let storage = Storage::from_env(env)?;
    let stored_len = framed_len(total_len, MAX_PAYLOAD_64K) + 4;
    let mut stored_form = SideBandFramer::new(MAX_PAYLOAD_64K);

    let (mut tee, to_client, to_r2) = Tee::new();
    let task = async move {
        // R2 keeps the pack in its stored form (see `StoredPack`).
        let put = async {
            if cache {
                storage
                    .store_framed_pack(
                        &etag,
                        FixedLengthStream::wrap(to_r2, stored_len),
                        count as usize,
                    )
                    .await
            } else {
                drop(to_r2);
                Ok(())
            }
        };
        let produce = async {
            tee.send_client(head).await;
            let result: Result<(), String> = async {
                // The checksum is the runtime's (see `native_sha1`): it
                // sees each chunk as it leaves, then goes last.
                let mut w = PackWriter::unhashed(Vec::new(), count).map_err(|e| e.to_string())?;
                let mut sum = NativeSha1::new().map_err(|e| e.to_string())?;
                let mut entries = EntryReader::prefetching(
                    &storage,
                    first_use_order(parts.iter().filter_map(|p| match p {
                        Part::Entry { object, .. } => Some(object.as_str()),
                        Part::Fresh(_) => None,
                    })),
                );
                let mut first_chunk = true;
                for part in &parts {
                    let bytes = match part {
                        Part::Fresh(bytes) => bytes.as_slice(),
                        Part::Entry { object, entry } => entries
                            .slice(object, *entry)
                            .await
                            .map_err(|e| e.to_string())?,
                    };
                    w.write_entry_bytes(bytes).map_err(|e| e.to_string())?;
                    if w.get_mut().len() < CHUNK_BYTES {
                        continue;
                    }
                    let chunk = std::mem::take(w.get_mut());
                    sum.update(&chunk).await.map_err(|e| e.to_string())?;
                    if tee.upload_open() {
                        tee.send_upload(stored_form.push(&chunk)).await;
                    }
                    if tee.client_open() {
                        tee.send_client(framing.frame(&chunk)).await;
                    }
                    tee.still_read()?;
                    // Crash tests stop here, part of the pack sent to both.
                    if std::mem::take(&mut first_chunk) {
                        storage.failpoint("pack-stream").await;
                    }
                }
                let mut trailer = w.finish_unhashed().map_err(|e| e.to_string())?;
                sum.update(&trailer).await.map_err(|e| e.to_string())?;
                trailer.extend_from_slice(&sum.finish().await.map_err(|e| e.to_string())?);
                let mut last = stored_form.push(&trailer);
                last.extend(stored_form.finish());
                last.extend_from_slice(b"0000");
                tee.send_upload(last).await;
                let mut last = framing.frame(&trailer);
                last.extend(framing.finish());
                tee.send_client(last).await;
                Ok(())
            }
            .await;
            if let Err(msg) = &result {
                tee.abort_upload(msg).await;
                if framing.is_sideband() {
                    tee.send_client(band_error(&format!(
                        "marketplace-edge: building the pack failed: {msg}"
                    )))
                    .await;
                }
            }
            tee.close() && result.is_ok()
        };
        let (produced, put) = future::join(produce, put).await;
        if cache && produced && put.is_ok() {
            let cached = CachedView {
                etag: &etag,
                commit: &commit,
                tree: &tree,
                plugins,
            };
            let _ = storage.record_snapshot(&cached, total_len as i64).await;
        }
    };
    ctx.wait_until(task);
    let headers = git_headers(content_type)?;
    Ok(Response::from_stream(to_client.map(Ok::<Vec<u8>, worker::Error>))?.with_headers(headers))
}
