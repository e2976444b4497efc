//! A ZIP cache miss, streamed: members are written one at a time, their
//! data spliced from the stored pack entries (see `catalog::zip_export`),
//! to the client and into `zips/<etag>` in R2 at once.
//!
//! Invariants: memory holds one file (inflated, for its CRC), the entries
//! objects being read and a few chunks, never the ZIP; its length is known
//! before the first byte, so R2 receives a fixed-length stream and stores
//! nothing unless every byte arrived, and the ZIP is recorded under the
//! ETag that named the request only if the view built is that view.

use futures_util::{future, StreamExt};
use worker::{Context, Env, FixedLengthStream, Headers, Response};

use super::error::{ApiError, ApiResult};
use super::pack_stream::CHUNK_BYTES;
use super::tee::Tee;
use super::view::View;
use crate::catalog::etag::Etag;
use crate::catalog::marketplace::MANIFEST_PATH;
use crate::catalog::served::{EntryRef, FileSource};
use crate::catalog::zip_export::{
    crc32, deflate, entry_deflate, entry_deflated_len, layout, ZipMember, ZipWriter,
};
use crate::git::pack::inflate_entry;
use crate::storage::entries::{first_use_order, EntryReader};
use crate::storage::pack_cache::{zip_key, CachedView};
use crate::storage::Storage;

/// Where a member's bytes come from.
enum Source {
    /// Generated content, deflated now, with its CRC.
    Inline { crc: u32, data: Vec<u8> },
    /// A stored blob entry.
    Entry { object: String, entry: EntryRef },
}

/// Lays out the ZIP of `view`: members in order with their sources, and
/// the exact length.
fn plan(view: &View) -> Result<(Vec<(ZipMember, Source)>, u64), ApiError> {
    let bad = |e: crate::catalog::zip_export::ZipExportError| match e {
        crate::catalog::zip_export::ZipExportError::BadEntry(_) => {
            ApiError::internal(e.to_string())
        }
        _ => ApiError::new(413, "zip_too_large", e.to_string()),
    };
    let inline = |path: String, exec: bool, content: &[u8]| {
        let data = deflate(content);
        let m = ZipMember {
            path,
            exec,
            size: content.len() as u64,
            deflated_len: data.len() as u64,
        };
        let crc = crc32(content);
        (m, Source::Inline { crc, data })
    };
    let mut members = vec![inline(
        MANIFEST_PATH.to_string(),
        false,
        &view.snapshot.manifest,
    )];
    for p in &view.plugins {
        for f in &p.files {
            let path = format!("plugins/{}/{}", p.dir, f.path);
            members.push(match &f.source {
                FileSource::Inline(bytes) => inline(path, f.exec, bytes),
                FileSource::Entry { object, entry } => (
                    ZipMember {
                        path,
                        exec: f.exec,
                        size: f.size,
                        deflated_len: entry_deflated_len(f.size, entry.len).map_err(bad)?,
                    },
                    Source::Entry {
                        object: object.clone(),
                        entry: *entry,
                    },
                ),
            });
        }
    }
    members.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    let mut laid: Vec<ZipMember> = members.iter().map(|(m, _)| m.clone()).collect();
    let len = layout(&mut laid).map_err(bad)?;
    Ok((members, len))
}

/// Answers a ZIP miss by streaming it to the client while storing it in
/// R2 under `requested` (kept alive with `ctx.wait_until`).
pub fn stream_and_store(
    ctx: &Context,
    env: &Env,
    view: View,
    requested: Etag,
    headers: Headers,
) -> ApiResult {
    let (members, len) = plan(&view)?;
    let storage = Storage::from_env(env)?;
    let (commit, tree, plugins) = (
        view.snapshot.commit_id.to_hex(),
        view.snapshot.tree_id.to_hex(),
        view.curated_keys(),
    );
    // The key names what was asked for; a view changed meanwhile must not
    // be stored under it.
    let cacheable = view.snapshot.etag == requested;
    let (mut tee, to_client, to_r2) = Tee::new();
    let task = async move {
        let put = async {
            if cacheable {
                storage
                    .put_stream(&zip_key(&requested), FixedLengthStream::wrap(to_r2, len))
                    .await
            } else {
                drop(to_r2);
                Ok(())
            }
        };
        let produce = async {
            let result: Result<(), String> = async {
                let mut entries = EntryReader::prefetching(
                    &storage,
                    first_use_order(members.iter().filter_map(|(_, s)| match s {
                        Source::Entry { object, .. } => Some(object.as_str()),
                        Source::Inline { .. } => None,
                    })),
                );
                let mut w = ZipWriter::new();
                let mut chunk = Vec::with_capacity(CHUNK_BYTES * 2);
                let mut first_chunk = true;
                for (m, source) in &members {
                    match source {
                        Source::Inline { crc, data } => chunk.extend(w.member(m, *crc, data)),
                        Source::Entry { object, entry } => {
                            let bytes = entries
                                .slice(object, *entry)
                                .await
                                .map_err(|e| e.to_string())?;
                            let (_, content) = inflate_entry(bytes, m.size)
                                .map_err(|e| format!("{object}: {e}"))?;
                            let data = entry_deflate(bytes).map_err(|e| e.to_string())?;
                            chunk.extend(w.member(m, crc32(&content), data));
                        }
                    }
                    if chunk.len() >= CHUNK_BYTES {
                        tee.send_both(std::mem::take(&mut chunk)).await?;
                        // Crash tests stop here, part of the ZIP sent to both.
                        if std::mem::take(&mut first_chunk) {
                            storage.failpoint("zip-stream").await;
                        }
                    }
                }
                chunk.extend(w.finish());
                tee.send_both(chunk).await
            }
            .await;
            if let Err(msg) = &result {
                // The client sees a truncated body; R2 stores nothing.
                tee.abort_upload(msg).await;
                worker::console_error!("building the ZIP of {requested} failed: {msg}");
            }
            tee.close() && result.is_ok()
        };
        let (produced, put) = future::join(produce, put).await;
        if cacheable && produced && put.is_ok() {
            let cached = CachedView {
                etag: &requested,
                commit: &commit,
                tree: &tree,
                plugins,
            };
            if let Err(e) = storage.record_view(&cached).await {
                worker::console_error!("recording ZIP {requested} failed: {e}");
            }
        }
    };
    ctx.wait_until(task);
    Ok(Response::from_stream(to_client.map(Ok::<Vec<u8>, worker::Error>))?.with_headers(headers))
}
