//! The cached copy (`packs/<etag>`) of a pack assembled from segments
//! (see `segment_pack`), written once the client has its last byte: the
//! framed runs sent from wasm, kept, and each segment's framed half read
//! again, so the client is never held to R2's write speed.
//!
//! Invariant: R2 stores the copy only if every byte arrived (a
//! fixed-length upload that is aborted on any failure).

use futures_util::future;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;

use super::pipe::{fixed_length, pipe_open, write_all};
use crate::storage::pack_cache::CachedView;
use crate::storage::segments::SegmentRow;
use crate::storage::Storage;

/// What the cached copy is made of, in order: bytes kept from sending
/// (framed own runs) and segments to read again.
pub(super) enum Kept {
    Bytes(Vec<u8>),
    Segment(SegmentRow),
}

/// Writes the cached copy (`packs/<etag>`): the framed own runs kept,
/// each segment's framed half read again, the framed trailer and a flush.
pub(super) async fn store_copy(
    storage: &Storage,
    view: &CachedView<'_>,
    kept: &[Kept],
    tail: &[u8],
    stored_len: u64,
    count: usize,
) -> Result<(), JsValue> {
    let (readable, writable) = fixed_length(stored_len).map_err(|e| e.to_string())?;
    let put = async {
        storage
            .store_framed_pack(view.etag, readable, count)
            .await
            .map_err(|e| JsValue::from_str(&e.to_string()))
    };
    let feed = async {
        let fed = async {
            for part in kept {
                let seg = match part {
                    Kept::Bytes(bytes) => {
                        write_all(&writable, bytes).await?;
                        continue;
                    }
                    Kept::Segment(seg) => seg,
                };
                let framed = storage
                    .segment_framed(seg)
                    .await
                    .map_err(|e| e.to_string())?;
                pipe_open(&framed, &writable).await?;
            }
            write_all(&writable, tail).await?;
            JsFuture::from(writable.close()).await?;
            Ok::<(), JsValue>(())
        }
        .await;
        if fed.is_err() {
            // R2 stores nothing unless every byte arrived.
            let _ = JsFuture::from(writable.abort()).await;
        }
        fed
    };
    let (put, fed) = future::join(put, feed).await;
    fed?;
    put
}
