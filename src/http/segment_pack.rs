//! A miss answered from pack segments (see `catalog::segment`,
//! `storage::segments`): the pack is its header and the objects only this
//! view has (the top trees, the manifest, the commit, the Store bundle,
//! and any plugin without a usable segment), written from wasm; then each
//! curated or Store plugin's segment, piped by the runtime from R2, raw
//! into the SHA-1 and framed to the client; then the trailer.
//!
//! The cached copy (`packs/<etag>`) is written on the view's second miss,
//! not its first, after the client is served, from the same segments. A
//! view assembled from segments costs little to assemble again, and many
//! views are fetched once (a member's own view, with their Store
//! installs, after each change): their copies would be R2 writes and
//! bytes no one reads. The first miss records the view (its `snapshots`
//! row, pack-less), so the second knows.
//!
//! Invariants: no object goes into the pack twice (`segment_plan` sends a
//! plugin that shares a blob with any other part of the view object by
//! object); the wasm part is at most `OWN_MAX` bytes (else `pack_stream`
//! builds the view); a segment is built for each plugin that lacked one,
//! after the response, so the next view with it pipes it.

use futures_util::{future, stream, StreamExt};
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::WritableStream;
use worker::{Context, Env, Response, ResponseBody};

use super::error::ApiError;
use super::git::git_headers;
use super::native_sha1::NativeSha1;
use super::pack_stream::{plan, Part, CHUNK_BYTES};
use super::pipe::{fixed_length, pipe_open, read_all, write_all, write_js};
use super::segment_build::{build_later, build_segments};
use super::segment_copy::{store_copy, Kept};
use super::view::{served_marketplace, ServedHead, View};
use crate::catalog::segment::frame_segment;
use crate::catalog::served::{Origin, ServedPlugin};
use crate::catalog::snapshot::Snapshot;
use crate::git::pack::pack_header;
use crate::git::repo::Repository;
use crate::git::sideband::{framed_len, SideBandFramer, MAX_PAYLOAD_64K};
use crate::git::upload_pack::{PackFramer, PackResponse};
use crate::git::ObjectId;
use crate::storage::entries::{first_use_order, EntryReader};
use crate::storage::pack_cache::CachedView;
use crate::storage::segments::SegmentRow;
use crate::storage::Storage;

/// The most pack bytes sent from wasm beside the segments. They are kept
/// until the cached copy is written, so this bounds memory; a view with
/// more (one whose plugins mostly lack segments) is built whole.
const OWN_MAX: u64 = 8 << 20;

/// Segments whose two R2 reads are in flight ahead of the one being piped.
const AHEAD: usize = 2;

/// A view split for a segmented pack.
struct Split {
    /// The view; plugins sent as segments have no files in it.
    view: View,
    /// Their segments, in the view's order.
    segments: Vec<SegmentRow>,
    /// Plugins (with files) to build a segment for after the response.
    to_build: Vec<ServedPlugin>,
    /// Whether to cache the pack: the view missed before.
    cache: bool,
}

/// What `serve_from_segments` did.
pub enum Segmented {
    /// Answered, piping this many plugins from their segments; whether
    /// the pack is cached after (the view's second miss).
    Served(Response, usize, bool),
    /// Better built whole: no segment yet, too much of the view without
    /// one, or the catalog changed under it. The view comes along when
    /// every file of it was loaded (no segment in it), saving a reload.
    Whole(Option<View>),
}

/// Answers a whole-view fetch of a side-band-64k client from pack
/// segments where it can (see `Segmented`). Any missing segments are
/// built after the response either way.
pub async fn serve_from_segments(
    ctx: &Context,
    env: &Env,
    storage: &Storage,
    served: &ServedHead,
    p: &PackResponse,
    content_type: &str,
) -> Result<Segmented, ApiError> {
    let Some(split) = split(env, storage, served).await? else {
        return Ok(Segmented::Whole(None));
    };
    if split.segments.is_empty() {
        // Every plugin came with its files: the view is whole already.
        build_later(ctx, env, split.to_build)?;
        let whole = split.view.snapshot.segment_slots().is_empty();
        return Ok(Segmented::Whole(whole.then_some(split.view)));
    }
    let runs = runs(&split.view, &split.segments)?;
    let own_len = own_len(&runs);
    if own_len > OWN_MAX {
        build_later(ctx, env, split.to_build)?;
        return Ok(Segmented::Whole(None));
    }
    let count: usize = runs.iter().map(Run::objects).sum();
    let head = PackFramer::start_counted(p, count).1;
    // The stored form: each run framed (the first with the pack header),
    // the framed trailer and a flush.
    let stored_len: u64 = runs
        .iter()
        .enumerate()
        .map(|(i, r)| r.framed_len(if i == 0 { 12 } else { 0 }))
        .sum::<u64>()
        + framed_len(20, MAX_PAYLOAD_64K)
        + 4;
    let raw_len = own_len + split.segments.iter().map(|s| s.raw_len as u64).sum::<u64>();
    let (readable, writable) = fixed_length(head.len() as u64 + stored_len)?;
    let storage = Storage::from_env(env)?;
    let piped = split.segments.len();
    let Split {
        view,
        to_build,
        cache,
        ..
    } = split;
    ctx.wait_until(async move {
        let sent = async {
            write_all(&writable, &head).await?;
            let (kept, trailer) = send_runs(&storage, &writable, &runs, count, cache).await?;
            let mut tail = frame_segment(&trailer);
            tail.extend_from_slice(b"0000");
            write_all(&writable, &tail).await?;
            JsFuture::from(writable.close()).await?;
            Ok::<_, JsValue>((kept, tail))
        }
        .await;
        let cached = CachedView {
            etag: &view.snapshot.etag,
            commit: &view.snapshot.commit_id.to_hex(),
            tree: &view.snapshot.tree_id.to_hex(),
            plugins: view.curated_keys(),
        };
        match sent {
            Ok(_) if !cache => {
                if let Err(e) = storage.record_view(&cached).await {
                    worker::console_error!("recording the view {} failed: {e}", cached.etag)
                }
            }
            Ok((kept, tail)) => {
                match store_copy(&storage, &cached, &kept, &tail, stored_len, count).await {
                    Ok(()) => {
                        let _ = storage.record_snapshot(&cached, raw_len as i64).await;
                    }
                    Err(e) => {
                        worker::console_error!("caching the pack of {} failed: {e:?}", cached.etag)
                    }
                }
            }
            Err(e) => {
                // The client sees a truncated pack, which git reports.
                worker::console_error!("sending a pack from segments failed: {e:?}");
                let _ = JsFuture::from(writable.abort()).await;
            }
        }
        build_segments(&storage, &to_build).await;
    });
    let resp = Response::from_body(ResponseBody::Stream(readable))?
        .with_headers(git_headers(content_type)?);
    Ok(Segmented::Served(resp, piped, cache))
}

/// The pack bytes sent from wasm: own runs, the pack header and trailer.
fn own_len(runs: &[Run]) -> u64 {
    runs.iter().map(Run::own_len).sum::<u64>() + 12 + 20
}

/// A stretch of the pack: objects sent from wasm, or a plugin's segment.
enum Run {
    Own(Vec<Part>, u64),
    Segment(SegmentRow),
}

impl Run {
    fn own_len(&self) -> u64 {
        match self {
            Run::Own(_, len) => *len,
            Run::Segment(_) => 0,
        }
    }

    fn objects(&self) -> usize {
        match self {
            Run::Own(parts, _) => parts.len(),
            Run::Segment(seg) => seg.objects as usize,
        }
    }

    /// Its length framed, with `extra` raw bytes sent in front of it.
    fn framed_len(&self, extra: u64) -> u64 {
        match self {
            Run::Own(_, len) => framed_len(extra + len, MAX_PAYLOAD_64K),
            Run::Segment(seg) => seg.framed_len as u64,
        }
    }
}

/// The whole pack's runs in the snapshot's order: the commit and its
/// contents, with each plugin's segment where its objects would be (so the
/// pack is byte for byte the one `pack_stream` builds from the files).
fn runs(view: &View, segments: &[SegmentRow]) -> Result<Vec<Run>, ApiError> {
    let s = &view.snapshot;
    let mut own = vec![s.commit_id];
    own.extend(s.tree_objects(&s.commit_id));
    let slots = s.segment_slots();
    if slots.len() != segments.len() {
        return Err(ApiError::internal(
            "the view's segments do not match its plugins".to_string(),
        ));
    }
    let mut runs = Vec::new();
    let mut from = 0;
    for ((at, _), seg) in slots.iter().zip(segments) {
        // Slots index the contents, which follow the commit.
        let to = at + 1;
        if to > from {
            let (parts, len) = plan(view, &own[from..to])?;
            runs.push(Run::Own(parts, len - 32));
        }
        // Consecutive plugins written together are one read.
        let joined = match runs.last() {
            Some(Run::Segment(prev)) => prev.joined(seg),
            _ => None,
        };
        match joined {
            Some(run) => *runs.last_mut().expect("just matched") = Run::Segment(run),
            None => runs.push(Run::Segment(seg.clone())),
        }
        from = to;
    }
    if own.len() > from {
        let (parts, len) = plan(view, &own[from..])?;
        runs.push(Run::Own(parts, len - 32));
    }
    Ok(runs)
}

/// Loads the view with curated plugins' files left out, finds their
/// segments, and puts back the files of those that cannot use one.
async fn split(
    env: &Env,
    storage: &Storage,
    served: &ServedHead,
) -> Result<Option<Split>, ApiError> {
    let Some(view) = served.load_view_with(env, storage, false).await? else {
        return Ok(None);
    };
    let candidates: Vec<_> = view
        .plugins
        .iter()
        .filter_map(|p| segmentable(p).map(|tree| (&p.origin, tree)))
        .collect();
    if candidates.is_empty() {
        return Ok(Some(Split {
            view,
            segments: Vec::new(),
            to_build: Vec::new(),
            cache: true,
        }));
    }
    let mut plan = storage
        .segment_plan(&candidates, &view.snapshot.blob_ids(), &served.head.etag)
        .await?;
    let mut plugins = view.plugins;
    let (mut segments, mut to_build) = (Vec::new(), Vec::new());
    for p in &mut plugins {
        let Some(tree) = segmentable(p) else {
            continue;
        };
        let stored = plan.segments.get(&tree.to_hex()).cloned();
        // Files came back for a plugin with a segment: it shares a blob.
        match (stored, plan.files.contains_key(&p.origin)) {
            (Some(seg), false) => segments.push(seg),
            (stored, _) => {
                p.files = plan.files.remove(&p.origin).unwrap_or_default();
                if p.files.is_empty() {
                    // Its rows changed since the view was loaded.
                    return Ok(None);
                }
                if stored.is_none() {
                    to_build.push(p.clone());
                }
            }
        }
    }
    // Files read in the later round trip that disagree with the stored
    // tree mean the catalog changed between the two: built whole instead.
    let Ok(snapshot) = Snapshot::build(&served_marketplace(env), &plugins) else {
        return Ok(None);
    };
    if snapshot.etag != served.head.etag || snapshot.commit_id != served.head.commit_id {
        return Ok(None);
    }
    if snapshot
        .segment_slots()
        .iter()
        .zip(&segments)
        .any(|((_, tree), seg)| tree.to_hex() != seg.tree_id)
    {
        return Err(ApiError::internal(
            "the view's segments are out of order".to_string(),
        ));
    }
    Ok(Some(Split {
        view: View { plugins, snapshot },
        segments,
        to_build,
        cache: plan.fetched_before,
    }))
}

/// The stored tree of a plugin loaded without its files (a curated or
/// Store plugin whose objects may come from its segment).
fn segmentable(p: &ServedPlugin) -> Option<ObjectId> {
    match (&p.origin, p.tree) {
        (Origin::Curated(_) | Origin::Store { .. }, Some(tree))
            if p.files.is_empty() && !p.external =>
        {
            Some(tree)
        }
        _ => None,
    }
}

/// Sends the pack's runs to the client: own runs framed from wasm (the
/// first after the pack header), segments piped (their next R2 reads in
/// flight meanwhile); every raw byte also goes through one SHA-1. Returns
/// what the cached copy needs (when `keep`) and the pack's checksum.
async fn send_runs(
    storage: &Storage,
    to: &WritableStream,
    runs: &[Run],
    count: usize,
    keep: bool,
) -> Result<(Vec<Kept>, [u8; 20]), JsValue> {
    let js = |e: String| JsValue::from_str(&e);
    let mut sha = NativeSha1::new().map_err(|e| js(e.to_string()))?;
    let mut halves = stream::iter(runs.iter().filter_map(|r| match r {
        Run::Segment(seg) => Some(seg),
        Run::Own(..) => None,
    }))
    .map(|seg| storage.segment_halves(seg))
    .buffered(AHEAD);
    let mut entries = EntryReader::prefetching(
        storage,
        first_use_order(
            runs.iter()
                .flat_map(|r| match r {
                    Run::Own(parts, _) => parts.as_slice(),
                    Run::Segment(_) => &[],
                })
                .filter_map(|p| match p {
                    Part::Entry { object, .. } => Some(object.as_str()),
                    Part::Fresh(_) => None,
                }),
        ),
    );
    let mut buf = pack_header(count as u32).to_vec();
    let mut kept = Vec::with_capacity(runs.len());
    let mut first_chunk = true;
    for run in runs {
        let parts = match run {
            Run::Own(parts, _) => parts,
            Run::Segment(seg) => {
                let (raw, framed) = halves
                    .next()
                    .await
                    .ok_or_else(|| js("a segment went unread".into()))?
                    .map_err(|e| js(e.to_string()))?;
                // The digest takes the run in one write: piped, it cost per
                // chunk and took longer than sending the run.
                let hashing = async { write_js(sha.writable(), &read_all(&raw).await?).await };
                let (hashed, sent) = future::join(hashing, pipe_open(&framed, to)).await;
                hashed?;
                sent?;
                if keep {
                    kept.push(Kept::Segment(seg.clone()));
                }
                continue;
            }
        };
        let mut framer = SideBandFramer::new(MAX_PAYLOAD_64K);
        let mut framed = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            match part {
                Part::Fresh(bytes) => buf.extend_from_slice(bytes),
                Part::Entry { object, entry } => buf.extend_from_slice(
                    entries
                        .slice(object, *entry)
                        .await
                        .map_err(|e| js(e.to_string()))?,
                ),
            }
            let last = i + 1 == parts.len();
            if buf.len() < CHUNK_BYTES && !last {
                continue;
            }
            let chunk = std::mem::take(&mut buf);
            sha.update(&chunk).await.map_err(|e| js(e.to_string()))?;
            let mut out = framer.push(&chunk);
            if last {
                out.extend(framer.finish());
            }
            write_all(to, &out).await?;
            if keep {
                framed.extend_from_slice(&out);
            }
            // Crash tests stop here, part of the pack sent.
            if std::mem::take(&mut first_chunk) {
                storage.failpoint("pack-stream").await;
            }
        }
        if keep {
            kept.push(Kept::Bytes(framed));
        }
    }
    let sum = sha.finish().await.map_err(|e| js(e.to_string()))?;
    Ok((kept, sum))
}
