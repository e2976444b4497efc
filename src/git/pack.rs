//! The pack writer: PACK version 2, undeltified entries, SHA-1 trailer.
//!
//! Invariants:
//! - the object count is declared up front and `finish` fails unless exactly
//!   that many entries were written, so a truncated pack is never sealed;
//! - bytes go straight to the sink as they are produced and the trailer hash
//!   is computed on the way through, so memory holds at most one object;
//! - a `PackEntry` (entry header + zlib stream) is position-independent, so
//!   entries compressed once at ingest are spliced into any pack unchanged.

use std::io::{self, Write};

use flate2::write::ZlibEncoder;
use flate2::Compression;
use sha1::{Digest, Sha1};

use super::object::ObjectKind;
use super::oid::ObjectId;

/// zlib level for freshly compressed objects: 6, zlib's own default and what
/// git uses unless configured, so packs are as small as git's.
pub const DEFAULT_LEVEL: u32 = 6;

/// Why a pack could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("writing the pack failed: {0}")]
    Io(#[from] io::Error),
    #[error("pack declared {declared} objects but an extra one was written")]
    TooManyObjects { declared: u32 },
    #[error("pack declared {declared} objects but only {written} were written")]
    TooFewObjects { declared: u32, written: u32 },
    #[error("object {0} is missing from the object store")]
    MissingObject(ObjectId),
    #[error("a pack holds at most {} objects", u32::MAX)]
    TooLarge,
    #[error("pre-compressed entry is malformed: {0}")]
    BadEntry(&'static str),
    #[error("an unhashed pack has no checksum to write: finish it with finish_unhashed")]
    Unhashed,
}

/// Encodes a pack entry header: type and inflated size, 7 bits per byte.
pub fn entry_header(kind: ObjectKind, size: u64, out: &mut Vec<u8>) {
    entry_header_code(kind.pack_code(), size, out)
}

/// `entry_header` for any 3-bit type code, deltas (6, 7) included.
pub fn entry_header_code(code: u8, size: u64, out: &mut Vec<u8>) {
    let mut byte = (code << 4) | (size & 0x0f) as u8;
    let mut rest = size >> 4;
    while rest != 0 {
        out.push(byte | 0x80);
        byte = (rest & 0x7f) as u8;
        rest >>= 7;
    }
    out.push(byte);
}

/// Reads an entry header; returns kind, inflated size and header length.
pub fn parse_entry_header(bytes: &[u8]) -> Result<(ObjectKind, u64, usize), PackError> {
    let first = *bytes.first().ok_or(PackError::BadEntry("empty"))?;
    let kind = ObjectKind::from_pack_code((first >> 4) & 7)
        .ok_or(PackError::BadEntry("not a base object type"))?;
    let mut size = u64::from(first & 0x0f);
    let mut shift = 4;
    let mut i = 0;
    let mut byte = first;
    while byte & 0x80 != 0 {
        i += 1;
        byte = *bytes
            .get(i)
            .ok_or(PackError::BadEntry("truncated header"))?;
        if shift > 57 {
            return Err(PackError::BadEntry("size overflows"));
        }
        size |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    Ok((kind, size, i + 1))
}

/// A complete, position-independent pack entry: header then zlib data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackEntry {
    bytes: Vec<u8>,
}

impl PackEntry {
    /// Compresses `body` into an entry at zlib `level` (0–9).
    pub fn compress(kind: ObjectKind, body: &[u8], level: u32) -> PackEntry {
        let mut bytes = Vec::with_capacity(body.len() / 2 + 16);
        Self::compress_into(kind, body, level, &mut bytes);
        PackEntry { bytes }
    }

    /// Appends the entry `compress` makes to `out` (no buffer of its own:
    /// an ingest writes entries straight into the object it fills).
    pub fn compress_into(kind: ObjectKind, body: &[u8], level: u32, out: &mut Vec<u8>) {
        entry_header(kind, body.len() as u64, out);
        let mut z = ZlibEncoder::new(out, Compression::new(level.min(9)));
        // Writing into a Vec cannot fail.
        let _ = z.write_all(body);
        let _ = z.finish();
    }

    /// An entry whose zlib stream keeps `body` as it is (deflate's stored
    /// blocks). For small objects of mostly hash bytes, trees above all,
    /// deflate saves little while each compressor it runs zeroes some
    /// 200 KiB of tables: a 4,000-file view's 600 trees spent most of a
    /// cold fetch's planning there.
    pub fn stored(kind: ObjectKind, body: &[u8]) -> PackEntry {
        let blocks = body.len() / usize::from(u16::MAX) + 1;
        let mut bytes = Vec::with_capacity(16 + 2 + 5 * blocks + body.len() + 4);
        entry_header(kind, body.len() as u64, &mut bytes);
        // CMF: deflate with a 32 KiB window; FLG: no dictionary, and the
        // check bits that make the pair a multiple of 31.
        bytes.extend_from_slice(&[0x78, 0x01]);
        let mut chunks = body.chunks(usize::from(u16::MAX)).peekable();
        if body.is_empty() {
            bytes.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            let len = chunk.len() as u16;
            bytes.push(u8::from(last));
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(&(!len).to_le_bytes());
            bytes.extend_from_slice(chunk);
        }
        bytes.extend_from_slice(&miniz_oxide::mz_adler32_oxide(1, body).to_be_bytes());
        PackEntry { bytes }
    }

    /// Wraps stored entry bytes after checking the header is well formed.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<PackEntry, PackError> {
        let (_, _, header_len) = parse_entry_header(&bytes)?;
        if bytes.len() <= header_len {
            return Err(PackError::BadEntry("no compressed data"));
        }
        Ok(PackEntry { bytes })
    }

    /// The entry's bytes, ready to be spliced.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The entry's bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Inflates a stored entry back to its object, refusing one whose header
/// claims more than `max_size` bytes or whose data does not match the header.
pub fn inflate_entry(bytes: &[u8], max_size: u64) -> Result<(ObjectKind, Vec<u8>), PackError> {
    use std::io::Read;
    let (kind, size, header_len) = parse_entry_header(bytes)?;
    if size > max_size {
        return Err(PackError::BadEntry("entry is larger than allowed"));
    }
    let mut out = Vec::with_capacity(size as usize);
    flate2::read::ZlibDecoder::new(&bytes[header_len..])
        .take(size + 1)
        .read_to_end(&mut out)
        .map_err(|_| PackError::BadEntry("zlib data is corrupt"))?;
    if out.len() as u64 != size {
        return Err(PackError::BadEntry("inflated size differs from the header"));
    }
    Ok((kind, out))
}

/// A sink wrapper that hashes everything written through it (unless the
/// caller hashes the bytes itself: `hasher` is then `None`).
struct HashingWriter<W> {
    inner: W,
    hasher: Option<Sha1>,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The 12 bytes a version-2 pack of `count` objects starts with.
pub fn pack_header(count: u32) -> [u8; 12] {
    let mut header = [0u8; 12];
    header[..4].copy_from_slice(b"PACK");
    header[4..8].copy_from_slice(&2u32.to_be_bytes());
    header[8..].copy_from_slice(&count.to_be_bytes());
    header
}

/// Streams a pack into a sink.
pub struct PackWriter<W: Write> {
    out: HashingWriter<W>,
    declared: u32,
    written: u32,
    level: Compression,
}

impl<W: Write> PackWriter<W> {
    /// Writes the pack header for `count` objects and returns the writer.
    pub fn new(sink: W, count: u32) -> Result<Self, PackError> {
        Self::with_level(sink, count, DEFAULT_LEVEL)
    }

    /// Like `new`, compressing fresh objects at zlib `level`.
    pub fn with_level(sink: W, count: u32, level: u32) -> Result<Self, PackError> {
        Self::start(sink, count, level, Some(Sha1::new()))
    }

    /// Like `new`, but the caller computes the checksum of every byte the
    /// sink receives (e.g. with the runtime's native SHA-1, several times
    /// faster than SHA-1 in wasm) and writes it after `finish_unhashed`.
    pub fn unhashed(sink: W, count: u32) -> Result<Self, PackError> {
        Self::start(sink, count, DEFAULT_LEVEL, None)
    }

    fn start(sink: W, count: u32, level: u32, hasher: Option<Sha1>) -> Result<Self, PackError> {
        let mut out = HashingWriter {
            inner: sink,
            hasher,
        };
        out.write_all(&pack_header(count))?;
        Ok(PackWriter {
            out,
            declared: count,
            written: 0,
            level: Compression::new(level.min(9)),
        })
    }

    fn claim_slot(&mut self) -> Result<(), PackError> {
        if self.written == self.declared {
            return Err(PackError::TooManyObjects {
                declared: self.declared,
            });
        }
        self.written += 1;
        Ok(())
    }

    /// Compresses and writes one object, streaming the zlib output.
    pub fn write_object(&mut self, kind: ObjectKind, body: &[u8]) -> Result<(), PackError> {
        self.claim_slot()?;
        let mut header = Vec::with_capacity(10);
        entry_header(kind, body.len() as u64, &mut header);
        self.out.write_all(&header)?;
        let mut z = ZlibEncoder::new(&mut self.out, self.level);
        z.write_all(body)?;
        z.finish()?;
        Ok(())
    }

    /// Splices raw entry bytes (header + zlib data) read from storage.
    pub fn write_entry_bytes(&mut self, bytes: &[u8]) -> Result<(), PackError> {
        self.claim_slot()?;
        self.out.write_all(bytes)?;
        Ok(())
    }

    /// The sink, e.g. to drain a `Vec` into a channel between entries; the
    /// running checksum is unaffected because hashing happens on the way in.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out.inner
    }

    /// Writes the trailer; returns the sink and the pack checksum.
    pub fn finish(mut self) -> Result<(W, ObjectId), PackError> {
        self.check_count()?;
        let hasher = self.out.hasher.take().ok_or(PackError::Unhashed)?;
        let digest: [u8; 20] = hasher.finalize().into();
        self.out.inner.write_all(&digest)?;
        self.out.inner.flush()?;
        Ok((self.out.inner, ObjectId::from_bytes(digest)))
    }

    /// Checks the object count and returns the sink, without a trailer:
    /// the caller appends the checksum it kept (see `unhashed`).
    pub fn finish_unhashed(self) -> Result<W, PackError> {
        self.check_count()?;
        Ok(self.out.inner)
    }

    fn check_count(&self) -> Result<(), PackError> {
        if self.written != self.declared {
            return Err(PackError::TooFewObjects {
                declared: self.declared,
                written: self.written,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_sizes() {
        for size in [
            0u64,
            1,
            15,
            16,
            127,
            128,
            4095,
            1 << 20,
            u32::MAX as u64 + 7,
        ] {
            let mut h = Vec::new();
            entry_header(ObjectKind::Blob, size, &mut h);
            let (kind, got, len) = parse_entry_header(&h).unwrap();
            assert_eq!((kind, got, len), (ObjectKind::Blob, size, h.len()));
        }
    }

    #[test]
    fn stored_entries_inflate_to_their_body_at_block_boundaries() {
        for len in [0usize, 1, 65_534, 65_535, 65_536, 131_070, 200_000] {
            let body: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let entry = PackEntry::stored(ObjectKind::Tree, &body);
            // The bytes carry one 5-byte block header per started 64 KiB.
            let blocks = len.div_ceil(65_535).max(1);
            let mut header = Vec::new();
            entry_header(ObjectKind::Tree, len as u64, &mut header);
            assert_eq!(
                entry.as_bytes().len(),
                header.len() + 2 + 5 * blocks + len + 4
            );
            let (kind, got) = inflate_entry(entry.as_bytes(), len as u64).unwrap();
            assert_eq!((kind, got), (ObjectKind::Tree, body), "{len}");
        }
    }

    #[test]
    fn count_is_enforced() {
        let mut w = PackWriter::new(Vec::new(), 1).unwrap();
        w.write_object(ObjectKind::Blob, b"x").unwrap();
        assert!(matches!(
            w.write_object(ObjectKind::Blob, b"y"),
            Err(PackError::TooManyObjects { .. })
        ));
        let short = PackWriter::new(Vec::new(), 2).unwrap();
        assert!(matches!(
            short.finish(),
            Err(PackError::TooFewObjects {
                declared: 2,
                written: 0
            })
        ));
    }

    #[test]
    fn spliced_and_fresh_entries_are_identical_bytes() {
        let body = b"hello pack";
        let mut fresh = PackWriter::new(Vec::new(), 1).unwrap();
        fresh.write_object(ObjectKind::Blob, body).unwrap();
        let mut spliced = PackWriter::new(Vec::new(), 1).unwrap();
        spliced
            .write_entry_bytes(
                PackEntry::compress(ObjectKind::Blob, body, DEFAULT_LEVEL).as_bytes(),
            )
            .unwrap();
        assert_eq!(fresh.finish().unwrap().0, spliced.finish().unwrap().0);
    }

    /// A sink shared with the test, to watch bytes arrive.
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_entry_reaches_the_sink_before_the_next_is_written() {
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut w = PackWriter::new(Shared(seen.clone()), 3).unwrap();
        assert_eq!(seen.borrow().len(), 12, "header is written at once");
        let mut before = 12;
        for body in [
            vec![1u8; 300_000],
            b"small".to_vec(),
            (0..70_000u32).map(|i| (i * 7919) as u8).collect(),
        ] {
            w.write_object(ObjectKind::Blob, &body).unwrap();
            let now = seen.borrow().len();
            let entry = PackEntry::compress(ObjectKind::Blob, &body, DEFAULT_LEVEL);
            assert_eq!(
                now - before,
                entry.as_bytes().len(),
                "the whole entry was flushed to the sink"
            );
            before = now;
        }
        w.finish().unwrap();
        assert_eq!(seen.borrow().len(), before + 20, "trailer follows");
    }

    #[test]
    fn an_unhashed_pack_is_the_hashed_one_without_its_trailer() {
        let blobs: [&[u8]; 2] = [b"one\n", b"two\n"];
        let mut hashed = PackWriter::new(Vec::new(), 2).unwrap();
        let mut unhashed = PackWriter::unhashed(Vec::new(), 2).unwrap();
        for b in blobs {
            hashed.write_object(ObjectKind::Blob, b).unwrap();
            unhashed.write_object(ObjectKind::Blob, b).unwrap();
        }
        let (whole, sum) = hashed.finish().unwrap();
        let body = unhashed.finish_unhashed().unwrap();
        assert_eq!(body, whole[..whole.len() - 20]);
        let digest: [u8; 20] = Sha1::digest(&body).into();
        assert_eq!(ObjectId::from_bytes(digest), sum);
        assert!(matches!(
            PackWriter::unhashed(Vec::new(), 0).unwrap().finish(),
            Err(PackError::Unhashed)
        ));
    }

    #[test]
    fn draining_the_sink_between_entries_gives_the_same_pack() {
        // How an async producer feeds a streaming response: write an entry,
        // move the bytes to the channel, repeat.
        let bodies: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 1000 * usize::from(i)]).collect();
        let mut direct = PackWriter::new(Vec::new(), 5).unwrap();
        let mut drained = PackWriter::new(Vec::new(), 5).unwrap();
        let mut chunks: Vec<Vec<u8>> = vec![std::mem::take(drained.get_mut())];
        for b in &bodies {
            direct.write_object(ObjectKind::Blob, b).unwrap();
            drained.write_object(ObjectKind::Blob, b).unwrap();
            chunks.push(std::mem::take(drained.get_mut()));
            assert!(drained.get_mut().is_empty());
        }
        let (tail, sum_drained) = drained.finish().unwrap();
        chunks.push(tail);
        let (whole, sum_direct) = direct.finish().unwrap();
        assert_eq!(chunks.concat(), whole);
        assert_eq!(sum_drained, sum_direct);
    }

    #[test]
    fn entries_inflate_back_to_their_object() {
        let body = b"round trip".repeat(100);
        let e = PackEntry::compress(ObjectKind::Blob, &body, DEFAULT_LEVEL);
        assert_eq!(
            inflate_entry(e.as_bytes(), 1 << 20).unwrap(),
            (ObjectKind::Blob, body.clone())
        );
        assert!(inflate_entry(e.as_bytes(), 10).is_err(), "size cap");
        let mut bad = e.into_bytes();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert!(inflate_entry(&bad, 1 << 20).is_err(), "corrupt data");
    }

    #[test]
    fn malformed_entries_are_refused() {
        assert!(PackEntry::from_bytes(vec![]).is_err());
        assert!(PackEntry::from_bytes(vec![0x60, 0]).is_err()); // ofs-delta type
        assert!(PackEntry::from_bytes(vec![0xb5]).is_err()); // continuation missing
    }
}
