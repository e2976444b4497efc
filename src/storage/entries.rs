//! Reading plugin files' zlib entries out of the `entries/…` R2 objects
//! that imports and uploads seal: by byte range, with a few objects
//! prefetched in first-use order and a few kept after use.

use std::collections::VecDeque;
use std::pin::Pin;

use futures_util::stream::{self, Stream, StreamExt};

use super::{Storage, StorageError, StorageResult};
use crate::catalog::served::{EntryRef, FileSource, ServedFile};
use crate::git::pack::inflate_entry;

/// How many `entries/…` objects a prefetching reader fetches at once: a
/// few, well under the Workers limit of six simultaneous connections, and
/// bounding memory to that many objects.
pub const PREFETCH_DEPTH: usize = 4;

type Fetched<'a> = Pin<Box<dyn Stream<Item = StorageResult<Option<Vec<u8>>>> + 'a>>;

/// Objects an `EntryReader` keeps after use. An import seals entries in
/// archive order, which need not be path order, so a plugin whose files
/// straddle two objects is read from both in turn.
const KEPT_OBJECTS: usize = 3;

/// Reads pack entries out of `entries/…` objects, holding the last few
/// objects used (plus, when prefetching, the next few): callers read
/// entries mostly grouped by object, so each is fetched once.
pub struct EntryReader<'a> {
    storage: &'a Storage,
    /// Most recently used last.
    kept: VecDeque<(String, Vec<u8>)>,
    /// Objects the prefetch will yield next, in order, and the prefetch.
    pending: VecDeque<String>,
    ahead: Option<Fetched<'a>>,
}

/// The distinct object keys of `keys`, in first-use order: what
/// `EntryReader::prefetching` is given.
pub fn first_use_order<'k>(keys: impl IntoIterator<Item = &'k str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(*k))
        .map(str::to_owned)
        .collect()
}

impl<'a> EntryReader<'a> {
    /// A reader over `store`'s bucket, fetching each object when asked.
    pub fn new(storage: &'a Storage) -> Self {
        EntryReader {
            storage,
            kept: VecDeque::new(),
            pending: VecDeque::new(),
            ahead: None,
        }
    }

    /// A reader that fetches `order` (the objects in the order they will be
    /// asked for) `PREFETCH_DEPTH` at a time, ahead of the caller.
    pub fn prefetching(storage: &'a Storage, order: Vec<String>) -> Self {
        let fetches = stream::iter(order.clone())
            .map(move |key| async move { storage.get_object(&key).await })
            .buffered(PREFETCH_DEPTH);
        EntryReader {
            storage,
            kept: VecDeque::new(),
            pending: order.into(),
            ahead: Some(Box::pin(fetches)),
        }
    }

    async fn load(&mut self, object: &str) -> StorageResult<Vec<u8>> {
        let missing = || StorageError::Corrupt(format!("R2 object {object} is missing"));
        if self.pending.front().map(String::as_str) == Some(object) {
            self.pending.pop_front();
            if let Some(ahead) = self.ahead.as_mut() {
                if let Some(fetched) = ahead.next().await {
                    return fetched?.ok_or_else(missing);
                }
            }
        }
        // Not where the prefetch is: fetch it alone.
        self.storage.get_object(object).await?.ok_or_else(missing)
    }

    /// The content of stored file `file`: its entry, inflated.
    pub async fn content(&mut self, file: &ServedFile) -> StorageResult<Vec<u8>> {
        let FileSource::Entry { object, entry } = &file.source else {
            return Err(StorageError::Corrupt(format!(
                "{} is not a stored entry",
                file.path.as_str()
            )));
        };
        let (_, content) = inflate_entry(self.slice(object, *entry).await?, file.size)
            .map_err(|e| StorageError::Corrupt(format!("{object}: {e}")))?;
        Ok(content)
    }

    /// The bytes of `entry` inside R2 object `object`.
    pub async fn slice(&mut self, object: &str, entry: EntryRef) -> StorageResult<&[u8]> {
        match self.kept.iter().position(|(k, _)| k == object) {
            Some(i) => {
                let hit = self.kept.remove(i).expect("position is in range");
                self.kept.push_back(hit);
            }
            None => {
                let bytes = self.load(object).await?;
                if self.kept.len() == KEPT_OBJECTS {
                    self.kept.pop_front();
                }
                self.kept.push_back((object.to_string(), bytes));
            }
        }
        let bytes = self
            .kept
            .back()
            .map(|(_, b)| b.as_slice())
            .unwrap_or_default();
        bytes
            .get(entry.offset as usize..(entry.offset + entry.len) as usize)
            .ok_or_else(|| {
                StorageError::Corrupt(format!("a pack entry lies outside R2 object {object}"))
            })
    }
}
