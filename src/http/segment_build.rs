//! Building pack segments (see `catalog::segment`): for an import's new
//! plugin trees before its commit, and after a miss for the plugins whose
//! segment it lacked. Segments built together go into one R2 object (see
//! `storage::segments`), in the order views list their plugins.
//!
//! Invariants: memory holds one group of at most `GROUP_MAX` bytes of
//! entries (twice, with its framed half); a failure is logged and leaves
//! nothing a later build would trip on (the next miss builds again).

use worker::{Context, Env};

use super::error::ApiError;
use crate::catalog::segment::{SegmentLayout, SegmentPart};
use crate::catalog::served::{files_tree, FileSource, ServedFile, ServedPlugin};
use crate::git::pack::PackEntry;
use crate::git::{ObjectId, ObjectKind};
use crate::storage::entries::{first_use_order, EntryReader};
use crate::storage::segments::NewSegment;
use crate::storage::Storage;

/// Plugins whose entries exceed this get no segment (building one holds
/// it in memory twice over); they are always sent object by object.
const SEGMENT_MAX: u64 = 16 << 20;

/// Builds the segments of `plugins` after the response.
pub(super) fn build_later(
    ctx: &Context,
    env: &Env,
    plugins: Vec<ServedPlugin>,
) -> Result<(), ApiError> {
    if plugins.is_empty() {
        return Ok(());
    }
    let storage = Storage::from_env(env)?;
    ctx.wait_until(async move { build_segments(&storage, &plugins).await });
    Ok(())
}

/// Builds and stores the segments of `plugins` (in the order views list
/// them), `GROUP_MAX` bytes to an object; failures are logged, as the
/// next miss only builds again.
pub(super) async fn build_segments(storage: &Storage, plugins: &[ServedPlugin]) {
    let plugins: Vec<(&str, &[ServedFile])> = plugins
        .iter()
        .map(|p| (p.dir.as_str(), p.files.as_slice()))
        .collect();
    build_groups(storage, &plugins).await;
}

/// Builds the segments an import's plugins (`(name, files)`) lack, so the
/// first fetch of any view with them already pipes them.
pub async fn build_missing_segments(storage: &Storage, plugins: &[(String, &[ServedFile])]) {
    let mut plugins: Vec<(&str, &[ServedFile], ObjectId)> = plugins
        .iter()
        .filter_map(|(name, files)| Some((name.as_str(), *files, files_tree(files).ok()?.root)))
        .collect();
    let trees: Vec<ObjectId> = plugins.iter().map(|p| p.2).collect();
    let present = match storage.segments_present(&trees).await {
        Ok(present) => present,
        Err(e) => {
            worker::console_error!("listing pack segments failed: {e}");
            return;
        }
    };
    plugins.retain(|p| !present.contains(&p.2.to_hex()));
    // Views list a marketplace's plugins by name.
    plugins.sort_by(|a, b| a.0.cmp(b.0));
    let plugins: Vec<(&str, &[ServedFile])> = plugins.iter().map(|p| (p.0, p.1)).collect();
    build_groups(storage, &plugins).await;
}

/// Segments written to one object: at most this many bytes of entries
/// (the object is held in memory with its framed half while it is built).
const GROUP_MAX: u64 = 8 << 20;

async fn build_groups(storage: &Storage, plugins: &[(&str, &[ServedFile])]) {
    let mut group = Vec::new();
    let mut size = 0;
    for (dir, files) in plugins {
        let len = entries_len(files);
        if files.is_empty() || len > SEGMENT_MAX {
            continue;
        }
        if size + len > GROUP_MAX && !group.is_empty() {
            put_group(storage, std::mem::take(&mut group)).await;
            size = 0;
        }
        match build_segment(storage, files).await {
            Ok(segment) => {
                size += len;
                group.push(segment);
            }
            Err(e) => worker::console_error!("building the pack segment of {dir} failed: {e}"),
        }
    }
    put_group(storage, group).await;
}

async fn put_group(storage: &Storage, group: Vec<NewSegment>) {
    if let Err(e) = storage.put_segments(group).await {
        worker::console_error!("storing pack segments failed: {e}");
    }
}

/// The bytes of a file set's stored entries.
fn entries_len(files: &[ServedFile]) -> u64 {
    files
        .iter()
        .map(|f| match &f.source {
            FileSource::Entry { entry, .. } => entry.len,
            FileSource::Inline(b) => b.len() as u64,
        })
        .sum()
}

async fn build_segment(storage: &Storage, files: &[ServedFile]) -> Result<NewSegment, String> {
    let layout = SegmentLayout::of(files).map_err(|e| e.to_string())?;
    let mut entries = EntryReader::prefetching(
        storage,
        first_use_order(layout.parts.iter().filter_map(|part| match part {
            SegmentPart::Blob(_, FileSource::Entry { object, .. }) => Some(object.as_str()),
            _ => None,
        })),
    );
    let mut raw = Vec::new();
    for part in &layout.parts {
        match part {
            SegmentPart::Tree(_, body) => {
                raw.extend(PackEntry::stored(ObjectKind::Tree, body).into_bytes())
            }
            SegmentPart::Blob(_, FileSource::Entry { object, entry }) => raw.extend_from_slice(
                entries
                    .slice(object, *entry)
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            SegmentPart::Blob(_, FileSource::Inline(_)) => {
                return Err("a synthesized file has no stored entry".into())
            }
        }
    }
    Ok(NewSegment {
        tree: layout.root,
        raw,
        objects: layout.objects(),
    })
}
