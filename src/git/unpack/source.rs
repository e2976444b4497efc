//! Where a pack's bytes come from: a whole pack in memory, or windows of a
//! larger one loaded on demand (`PackWindows`, which answer
//! `UnpackError::Need` for bytes not loaded yet), and the trailer check of
//! a pack that arrives in pieces (`TrailerCheck`).

use sha1::{Digest, Sha1};

use super::limits::UnpackError;

/// Where a pack's bytes come from: the whole pack in memory, or windows of
/// it (`PackWindows`).
pub trait PackBytes {
    /// The pack's length, trailer included.
    fn pack_len(&self) -> usize;
    /// Bytes `start..end` (fewer only at the pack's end), or
    /// `UnpackError::Need` when they are not loaded.
    fn bytes(&self, start: usize, end: usize) -> Result<&[u8], UnpackError>;
}

impl PackBytes for &[u8] {
    fn pack_len(&self) -> usize {
        self.len()
    }

    fn bytes(&self, start: usize, end: usize) -> Result<&[u8], UnpackError> {
        self.get(start..end.min(self.len()))
            .ok_or(UnpackError::Truncated)
    }
}

/// A pack held as windows the caller loads on demand, the oldest dropped
/// once they hold more than a budget (the newest is always kept).
pub struct PackWindows {
    len: usize,
    /// Bytes a `Need` asks for at least.
    window: usize,
    budget: usize,
    windows: std::collections::VecDeque<(usize, Vec<u8>)>,
}

impl PackWindows {
    /// A pack of `len` bytes, read `window` bytes at a time (more when one
    /// entry needs more), holding at most about `budget` bytes of it.
    pub fn new(len: usize, window: usize, budget: usize) -> Self {
        PackWindows {
            len,
            window: window.max(1),
            budget,
            windows: Default::default(),
        }
    }

    /// Drops windows until `incoming` more bytes fit the budget (the
    /// caller's room before loading a window, so the old and the new are
    /// never held together past the budget). A step stopped by `Need`
    /// resumes needing only the new bytes, so this never undoes progress.
    pub fn make_room(&mut self, incoming: usize) {
        let mut held: usize = self.windows.iter().map(|(_, b)| b.len()).sum();
        while held + incoming > self.budget {
            let Some((_, old)) = self.windows.pop_back() else {
                break;
            };
            held -= old.len();
        }
    }

    /// Loads bytes starting at `offset` (as a `Need` asked for).
    pub fn supply(&mut self, offset: usize, bytes: Vec<u8>) {
        self.windows.push_front((offset, bytes));
        let mut held: usize = self.windows.iter().map(|(_, b)| b.len()).sum();
        while held > self.budget && self.windows.len() > 1 {
            if let Some((_, old)) = self.windows.pop_back() {
                held -= old.len();
            }
        }
    }
}

impl PackBytes for PackWindows {
    fn pack_len(&self) -> usize {
        self.len
    }

    fn bytes(&self, start: usize, end: usize) -> Result<&[u8], UnpackError> {
        let end = end.min(self.len);
        if start > end {
            return Err(UnpackError::Truncated);
        }
        for (at, w) in &self.windows {
            if *at <= start && end <= at + w.len() {
                return Ok(&w[start - at..end - at]);
            }
        }
        Err(UnpackError::Need {
            offset: start,
            len: (end - start).max(self.window).min(self.len - start),
        })
    }
}

/// Checks a pack's trailing SHA-1 as its bytes arrive in pieces: the hash
/// of everything but the last 20 bytes must be those 20 bytes.
#[derive(Default)]
pub struct TrailerCheck {
    sha: Sha1,
    /// The last (up to) 20 bytes seen, not hashed yet.
    tail: Vec<u8>,
    len: usize,
}

impl TrailerCheck {
    /// Takes the next bytes of the pack.
    pub fn push(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len();
        if bytes.len() >= 20 {
            self.sha.update(&self.tail);
            self.tail.clear();
            let (body, last) = bytes.split_at(bytes.len() - 20);
            self.sha.update(body);
            bytes = last;
        }
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 20 {
            let spill = self.tail.len() - 20;
            self.sha.update(&self.tail[..spill]);
            self.tail.drain(..spill);
        }
    }

    /// The pack's length, if its trailer matches.
    pub fn finish(self) -> Result<usize, UnpackError> {
        if self.len < 32 {
            return Err(UnpackError::Truncated);
        }
        if self.sha.finalize().as_slice() != self.tail.as_slice() {
            return Err(UnpackError::BadChecksum);
        }
        Ok(self.len)
    }
}
