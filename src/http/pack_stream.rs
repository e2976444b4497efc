//! A cache miss, streamed: the pack for a whole snapshot is written once and
//! its bytes go, as they are produced, both to the client (framed as it
//! asked) and into `packs/<etag>` in R2 (in the stored form: side-band-64k
//! packets and a flush, which a later hit pipes untouched).
//!
//! Invariants: memory holds a few plugins' entries objects (read ahead,
//! `PREFETCH_DEPTH` at a time) and a few chunks of `CHUNK_BYTES`, not the
//! pack; the pack's length is known before the first byte (fresh
//! objects are compressed up front, entry lengths come from D1), so R2
//! receives a fixed-length stream and stores nothing unless every byte
//! arrived; a failure mid-pack reaches the client as a band-3 error.

use futures_channel::mpsc;
use futures_util::{future, SinkExt, StreamExt};
use worker::{Context, Env, FixedLengthStream, Response};

use super::error::{ApiError, ApiResult};
use super::git::git_headers;
use super::view::View;
use crate::catalog::snapshot::EntryRef;
use crate::catalog::snapshot::ObjectSource;
use crate::git::pack::{PackEntry, PackWriter, DEFAULT_LEVEL};
use crate::git::sideband::{framed_len, SideBandFramer, MAX_PAYLOAD_64K};
use crate::git::upload_pack::{band_error, PackFramer, PackResponse};
use crate::git::ObjectId;
use crate::storage::blobs::{first_use_order, CachedView, EntryReader};
use crate::storage::Store;

/// Chunks in flight per consumer before the producer waits.
const CHANNEL_DEPTH: usize = 4;

/// Pack bytes gathered before a chunk goes out. Each chunk crosses into the
/// runtime twice (client and R2), which costs tens of microseconds; one
/// chunk per object made a 4,000-file miss spend most of its time there.
const CHUNK_BYTES: usize = 128 << 10;

enum Part {
    /// A synthesized object, already compressed.
    Fresh(Vec<u8>),
    /// Bytes `entry` of R2 object `object`.
    Entry { object: String, entry: EntryRef },
}

/// Compresses the synthesized objects and lays out every part of the pack.
fn plan(view: &View, objects: &[ObjectId]) -> Result<(Vec<Part>, u64), ApiError> {
    let mut total = 12 + 20;
    let mut parts = Vec::with_capacity(objects.len());
    for id in objects {
        let part = match view.snapshot.source(id) {
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

/// Answers a whole-snapshot fetch on a cache miss by streaming the pack to
/// the client while storing it in R2 (kept alive with `ctx.wait_until`).
pub fn stream_and_store(
    ctx: &Context,
    env: &Env,
    view: View,
    p: &PackResponse,
    content_type: &str,
) -> ApiResult {
    let (parts, total_len) = plan(&view, &p.objects)?;
    let count = p.objects.len() as u32;
    let (mut framing, head) = PackFramer::start(p);
    let (etag, commit, tree, plugins) = (
        view.snapshot.etag.clone(),
        view.snapshot.commit_id.to_hex(),
        view.snapshot.tree_id.to_hex(),
        view.curated_keys(),
    );
    let store = Store::from_env(env)?;
    let stored_len = framed_len(total_len, MAX_PAYLOAD_64K) + 4;
    let mut stored_form = SideBandFramer::new(MAX_PAYLOAD_64K);

    let (mut to_client, from_producer) = mpsc::channel::<Vec<u8>>(CHANNEL_DEPTH);
    let (mut to_r2, r2_stream) = mpsc::channel::<worker::Result<Vec<u8>>>(CHANNEL_DEPTH);
    let task = async move {
        // R2 keeps the pack in its stored form (see `StoredPack`).
        let put = store.store_framed_pack(
            &etag,
            FixedLengthStream::wrap(r2_stream, stored_len),
            count as usize,
        );
        let produce = async {
            let (mut client_ok, mut r2_ok) = (to_client.send(head).await.is_ok(), true);
            let result: Result<(), String> = async {
                let mut w = PackWriter::new(Vec::new(), count).map_err(|e| e.to_string())?;
                let mut entries = EntryReader::prefetching(
                    &store,
                    first_use_order(parts.iter().filter_map(|p| match p {
                        Part::Entry { object, .. } => Some(object.as_str()),
                        Part::Fresh(_) => None,
                    })),
                );
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
                    if r2_ok {
                        r2_ok = to_r2.send(Ok(stored_form.push(&chunk))).await.is_ok();
                    }
                    if client_ok {
                        client_ok = to_client.send(framing.frame(&chunk)).await.is_ok();
                    }
                    if !client_ok && !r2_ok {
                        return Err("both the client and R2 went away".to_string());
                    }
                }
                let (trailer, _) = w.finish().map_err(|e| e.to_string())?;
                if r2_ok {
                    let mut last = stored_form.push(&trailer);
                    last.extend(stored_form.finish());
                    last.extend_from_slice(b"0000");
                    r2_ok = to_r2.send(Ok(last)).await.is_ok();
                }
                if client_ok {
                    let mut last = framing.frame(&trailer);
                    last.extend(framing.finish());
                    let _ = to_client.send(last).await;
                }
                Ok(())
            }
            .await;
            if let Err(msg) = &result {
                // Abort the upload so no partial pack is ever stored.
                let _ = to_r2.send(Err(worker::Error::from(msg.clone()))).await;
                if client_ok && framing.is_sideband() {
                    let _ = to_client
                        .send(band_error(&format!(
                            "marketplace-edge: building the pack failed: {msg}"
                        )))
                        .await;
                }
            }
            drop(to_r2);
            drop(to_client);
            result.is_ok() && r2_ok
        };
        let (produced, put) = future::join(produce, put).await;
        if produced && put.is_ok() {
            let cached = CachedView {
                etag: &etag,
                commit: &commit,
                tree: &tree,
                plugins,
            };
            let _ = store.record_snapshot(&cached, total_len as i64).await;
        }
    };
    ctx.wait_until(task);
    let headers = git_headers(content_type)?;
    Ok(
        Response::from_stream(from_producer.map(Ok::<Vec<u8>, worker::Error>))?
            .with_headers(headers),
    )
}
