//! One pack entry: its header (type, size, delta base) and its zlib data,
//! inflated only as far as needed to find where it ends or to read it whole.

use flate2::{Decompress, FlushDecompress, Status};

use super::limits::{UnpackError, UnpackLimits};
use super::source::PackBytes;
use crate::git::object::ObjectKind;
use crate::git::oid::ObjectId;

/// An entry's type, as its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryKind {
    Base(ObjectKind),
    /// Base at this (earlier) pack offset.
    OfsDelta(usize),
    RefDelta(ObjectId),
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) offset: usize,
    pub(super) kind: EntryKind,
    /// Inflated size of the entry's data (object or delta).
    pub(super) size: u64,
    pub(super) data_start: usize,
    pub(super) data_end: usize,
}

pub(super) fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The most bytes a zlib stream of `size` bytes takes as zlib writes it
/// (stored blocks at worst), with room for other encoders' fixed-Huffman
/// blocks (9 bits a byte); a longer stream is read in a second, wider try.
pub(super) fn zlib_bound(size: u64) -> usize {
    (size + size / 4 + 1024).min(usize::MAX as u64) as usize
}

/// Reads the entry at `pos` (header, delta base, zlib data) of a pack
/// whose entries end at `body_end`.
pub(super) fn read_entry(
    src: &impl PackBytes,
    pos: usize,
    body_end: usize,
    limits: &UnpackLimits,
) -> Result<Entry, UnpackError> {
    let bad = |why| UnpackError::BadEntry(pos, why);
    if pos >= body_end {
        return Err(UnpackError::Truncated);
    }
    // Type, size and delta base fit in 32 bytes.
    let head = src.bytes(pos, (pos + 32).min(body_end))?;
    let mut i = 0;
    let mut byte = *head.get(i).ok_or(UnpackError::Truncated)?;
    i += 1;
    let code = (byte >> 4) & 7;
    let mut size = u64::from(byte & 0x0f);
    let mut shift = 4u32;
    while byte & 0x80 != 0 {
        byte = *head.get(i).ok_or(UnpackError::Truncated)?;
        i += 1;
        if shift > 57 {
            return Err(bad("size header too long"));
        }
        size |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    if size > limits.max_object_bytes {
        return Err(UnpackError::ObjectTooLarge(limits.max_object_bytes));
    }
    let kind = match code {
        6 => {
            let mut b = *head.get(i).ok_or(UnpackError::Truncated)?;
            i += 1;
            let mut back = u64::from(b & 0x7f);
            while b & 0x80 != 0 {
                b = *head.get(i).ok_or(UnpackError::Truncated)?;
                i += 1;
                back = back
                    .checked_add(1)
                    .and_then(|v| v.checked_mul(128))
                    .ok_or(bad("delta offset overflows"))?
                    | u64::from(b & 0x7f);
            }
            if back == 0 || back > pos as u64 {
                return Err(bad("delta base offset points outside the pack"));
            }
            EntryKind::OfsDelta(pos - back as usize)
        }
        7 => {
            let raw: [u8; 20] = head
                .get(i..i + 20)
                .ok_or(UnpackError::Truncated)?
                .try_into()
                .map_err(|_| UnpackError::Truncated)?;
            i += 20;
            EntryKind::RefDelta(ObjectId::from_bytes(raw))
        }
        c => EntryKind::Base(ObjectKind::from_pack_code(c).ok_or(bad("unknown object type"))?),
    };
    let data_start = pos + i;
    let mut reach = zlib_bound(size);
    let used = loop {
        let end = data_start.saturating_add(reach).min(body_end);
        // Asked for from the entry's start, so one window holds the header
        // and the data: a step never needs two windows at once.
        match inflate_len(&src.bytes(pos, end)?[i..], size) {
            Ok(used) => break used,
            // A stream longer than zlib would write: look further, once.
            Err("zlib data is truncated") if end < body_end && reach == zlib_bound(size) => {
                reach = reach.saturating_mul(4)
            }
            Err(why) => return Err(bad(why)),
        }
    };
    Ok(Entry {
        offset: pos,
        kind,
        size,
        data_start,
        data_end: data_start + used,
    })
}

/// How much of `input` the zlib stream at its start takes, checking that
/// it inflates to exactly `size` bytes: `inflate_exact` without keeping
/// the output (the index pass only needs where each entry ends, and a
/// large object is then never held for it).
pub(super) fn inflate_len(input: &[u8], size: u64) -> Result<usize, &'static str> {
    let mut scratch = vec![0u8; 64 << 10];
    drive_inflate(input, size, |z, rest| {
        z.decompress(rest, &mut scratch, FlushDecompress::None)
    })
}

/// Inflates the zlib stream at the start of `input`, which must give
/// exactly `size` bytes; the bytes and how much input the stream took.
pub(super) fn inflate_exact(input: &[u8], size: u64) -> Result<(Vec<u8>, usize), &'static str> {
    // One spare byte of room: a stream longer than declared shows. Sized
    // exactly once (a `reserve` past the capacity would double it: an
    // object of 9 MB would briefly take 27).
    let room = size as usize + 1;
    let mut out = Vec::with_capacity(room);
    let used = drive_inflate(input, size, |z, rest| {
        out.reserve_exact(room.saturating_sub(out.len()).max(1));
        z.decompress_vec(rest, &mut out, FlushDecompress::None)
    })?;
    Ok((out, used))
}

/// Runs `step` (one decompression call on the input not taken yet, into
/// kept output or a scratch buffer) until the stream ends, checking that
/// it gives exactly `size` bytes; how much input it took.
pub(super) fn drive_inflate(
    input: &[u8],
    size: u64,
    mut step: impl FnMut(&mut Decompress, &[u8]) -> Result<Status, flate2::DecompressError>,
) -> Result<usize, &'static str> {
    let mut z = Decompress::new(true);
    loop {
        let (before_in, before_out) = (z.total_in(), z.total_out());
        if z.total_out() > size {
            return Err("inflates to more than its declared size");
        }
        let status =
            step(&mut z, &input[before_in as usize..]).map_err(|_| "zlib data is corrupt")?;
        match status {
            Status::StreamEnd => break,
            _ if z.total_in() == before_in && z.total_out() == before_out => {
                return Err(if z.total_in() as usize >= input.len() {
                    "zlib data is truncated"
                } else {
                    "zlib data does not progress"
                })
            }
            _ => {}
        }
    }
    if z.total_out() != size {
        return Err("inflated size differs from the header");
    }
    Ok(z.total_in() as usize)
}
