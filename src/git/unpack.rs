//! The pack reader: packs that other git servers send (the pack writer's
//! counterpart, for following upstream repositories).
//!
//! `Unpacked::parse` walks a whole pack once, inflating every entry to find
//! where the next begins, checks the trailer, then resolves deltas
//! (`OFS_DELTA` and `REF_DELTA`, chains of either) and names every object by
//! hashing its content. Objects are then read by id, resolved again from the
//! pack through a small cache, so memory holds the pack, an index and the
//! cache, not every object.
//!
//! Invariants: nothing here panics on any input; every size is checked
//! against `UnpackLimits` before it is allocated, and every inflated length
//! against the size its header declared; a delta's copy stays inside its
//! base; a delta chain is at most `max_delta_depth` long and cannot loop; a
//! base missing from the pack (a thin pack) is an error.

use std::collections::HashMap;
use std::rc::Rc;

use flate2::{Decompress, FlushDecompress, Status};
use sha1::{Digest, Sha1};

use super::object::ObjectKind;
use super::oid::ObjectId;

/// Bounds on what one pack may make the reader do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    pub max_objects: u32,
    /// One object (or delta) inflated.
    pub max_object_bytes: u64,
    /// Every entry inflated, in all.
    pub max_total_bytes: u64,
    pub max_delta_depth: u32,
}

/// Why a pack was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnpackError {
    #[error("the pack is truncated")]
    Truncated,
    #[error("not a version 2 or 3 pack")]
    BadHeader,
    #[error("the pack's trailing checksum does not match its content")]
    BadChecksum,
    #[error("the pack holds more than {0} objects")]
    TooManyObjects(u32),
    #[error("an object is larger than {0} bytes")]
    ObjectTooLarge(u64),
    #[error("the pack inflates to more than {0} bytes")]
    TooLarge(u64),
    #[error("entry at offset {0} is malformed: {1}")]
    BadEntry(usize, &'static str),
    #[error("a delta's base {0} is not in the pack (a thin pack is not accepted)")]
    MissingBase(String),
    #[error("a delta chain is longer than {0}")]
    ChainTooDeep(u32),
    #[error("object {0} is not in the pack")]
    NotFound(ObjectId),
}

/// An entry's type, as its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Base(ObjectKind),
    /// Base at this (earlier) pack offset.
    OfsDelta(usize),
    RefDelta(ObjectId),
}

#[derive(Debug, Clone)]
struct Entry {
    offset: usize,
    kind: EntryKind,
    /// Inflated size of the entry's data (object or delta).
    size: u64,
    data_start: usize,
    data_end: usize,
}

/// Bytes the resolver keeps of resolved objects, for delta chains.
const CACHE_BYTES: usize = 8 << 20;

/// A parsed pack: every object's id, kind and where to rebuild it from.
pub struct Unpacked<'p> {
    pack: &'p [u8],
    limits: UnpackLimits,
    entries: Vec<Entry>,
    /// Index into `entries` by pack offset.
    at: HashMap<usize, usize>,
    by_id: HashMap<ObjectId, (ObjectKind, usize)>,
    /// Each entry's delta chain length, once resolved.
    depth: Vec<Option<u32>>,
    cache: ResolvedCache,
}

impl<'p> Unpacked<'p> {
    /// Parses and verifies `pack`; every object is named by hashing it.
    pub fn parse(pack: &'p [u8], limits: UnpackLimits) -> Result<Self, UnpackError> {
        if pack.len() < 32 {
            return Err(UnpackError::Truncated);
        }
        if &pack[..4] != b"PACK" || !matches!(be32(&pack[4..8]), 2 | 3) {
            return Err(UnpackError::BadHeader);
        }
        let count = be32(&pack[8..12]);
        if count > limits.max_objects {
            return Err(UnpackError::TooManyObjects(limits.max_objects));
        }
        let body_end = pack.len() - 20;
        if Sha1::digest(&pack[..body_end]).as_slice() != &pack[body_end..] {
            return Err(UnpackError::BadChecksum);
        }
        let mut u = Unpacked {
            pack,
            limits,
            entries: Vec::with_capacity(count as usize),
            at: HashMap::new(),
            by_id: HashMap::new(),
            depth: vec![None; count as usize],
            cache: ResolvedCache::default(),
        };
        let mut pos = 12;
        let mut total = 0u64;
        for _ in 0..count {
            let entry = read_entry(&pack[..body_end], pos, &limits)?;
            total += entry.size;
            if total > limits.max_total_bytes {
                return Err(UnpackError::TooLarge(limits.max_total_bytes));
            }
            pos = entry.data_end;
            u.at.insert(entry.offset, u.entries.len());
            u.entries.push(entry);
        }
        if pos != body_end {
            return Err(UnpackError::BadEntry(pos, "bytes after the last entry"));
        }
        u.name_objects()?;
        Ok(u)
    }

    /// Hashes every object; REF_DELTA bases may come later in the pack,
    /// so deltas whose base is not named yet wait for the next round, until
    /// a round names nothing more.
    fn name_objects(&mut self) -> Result<(), UnpackError> {
        let mut pending: Vec<usize> = (0..self.entries.len()).collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut waiting = Vec::new();
            for i in pending {
                match self.resolve(i) {
                    Ok((kind, body)) => {
                        let id = kind.id_of(&body);
                        self.by_id.entry(id).or_insert((kind, i));
                    }
                    Err(UnpackError::MissingBase(_)) => waiting.push(i),
                    Err(e) => return Err(e),
                }
            }
            if waiting.len() == before {
                let base = match self.chain_root(waiting[0]) {
                    EntryKind::RefDelta(id) => id.to_hex(),
                    _ => "unknown".into(),
                };
                return Err(UnpackError::MissingBase(base));
            }
            pending = waiting;
        }
        Ok(())
    }

    /// The kind of the entry a chain from `i` ends at (for error messages).
    fn chain_root(&self, mut i: usize) -> EntryKind {
        for _ in 0..=self.limits.max_delta_depth {
            match self.entries[i].kind {
                EntryKind::OfsDelta(off) => match self.at.get(&off) {
                    Some(&j) => i = j,
                    None => break,
                },
                EntryKind::RefDelta(id) => match self.by_id.get(&id) {
                    Some(&(_, j)) => i = j,
                    None => return EntryKind::RefDelta(id),
                },
                k => return k,
            }
        }
        self.entries[i].kind
    }

    /// The number of objects.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the pack held no objects.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether the pack holds `id`.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.by_id.contains_key(id)
    }

    /// Object `id`'s pack entry as the pack stores it (header and zlib
    /// stream), when it is stored whole rather than as a delta: a valid
    /// entry for any pack, already checked to inflate to the object.
    pub fn stored_entry(&self, id: &ObjectId) -> Option<&'p [u8]> {
        let &(_, i) = self.by_id.get(id)?;
        let e = &self.entries[i];
        matches!(e.kind, EntryKind::Base(_)).then(|| &self.pack[e.offset..e.data_end])
    }

    /// Object `id`'s kind and content.
    pub fn object(&mut self, id: &ObjectId) -> Result<(ObjectKind, Rc<Vec<u8>>), UnpackError> {
        let &(_, i) = self.by_id.get(id).ok_or(UnpackError::NotFound(*id))?;
        self.resolve(i)
    }

    /// Entry `i` resolved to a kind and content, through its delta chain.
    fn resolve(&mut self, i: usize) -> Result<(ObjectKind, Rc<Vec<u8>>), UnpackError> {
        // Walk down to a base or a cached object, then apply deltas upward.
        let mut chain = vec![i];
        let (kind, mut body, mut depth) = loop {
            let top = *chain.last().expect("non-empty");
            if let Some((kind, body)) = self.cache.get(self.entries[top].offset) {
                chain.pop();
                break (kind, body, self.depth[top].unwrap_or(0));
            }
            let next = match self.entries[top].kind {
                EntryKind::Base(kind) => {
                    chain.pop();
                    let body = Rc::new(self.inflate(top)?);
                    self.depth[top] = Some(0);
                    self.cache
                        .put(self.entries[top].offset, kind, Rc::clone(&body));
                    break (kind, body, 0);
                }
                EntryKind::OfsDelta(off) => *self.at.get(&off).ok_or(UnpackError::BadEntry(
                    self.entries[top].offset,
                    "delta base offset is not an entry",
                ))?,
                EntryKind::RefDelta(id) => {
                    self.by_id
                        .get(&id)
                        .ok_or_else(|| UnpackError::MissingBase(id.to_hex()))?
                        .1
                }
            };
            if chain.len() as u32 > self.limits.max_delta_depth {
                return Err(UnpackError::ChainTooDeep(self.limits.max_delta_depth));
            }
            chain.push(next);
        };
        while let Some(j) = chain.pop() {
            depth += 1;
            if depth > self.limits.max_delta_depth {
                return Err(UnpackError::ChainTooDeep(self.limits.max_delta_depth));
            }
            self.depth[j] = Some(depth);
            let delta = self.inflate(j)?;
            let out = apply_delta(&body, &delta, self.limits.max_object_bytes)
                .map_err(|why| UnpackError::BadEntry(self.entries[j].offset, why))?;
            body = Rc::new(out);
            self.cache
                .put(self.entries[j].offset, kind, Rc::clone(&body));
        }
        Ok((kind, body))
    }

    /// Entry `i`'s data, inflated (its length checked again).
    fn inflate(&self, i: usize) -> Result<Vec<u8>, UnpackError> {
        let e = &self.entries[i];
        let (out, _) = inflate_exact(&self.pack[e.data_start..e.data_end], e.size)
            .map_err(|why| UnpackError::BadEntry(e.offset, why))?;
        Ok(out)
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads the entry at `pos` (header, delta base, zlib data) of `body`.
fn read_entry(body: &[u8], pos: usize, limits: &UnpackLimits) -> Result<Entry, UnpackError> {
    let bad = |why| UnpackError::BadEntry(pos, why);
    let mut i = pos;
    let mut byte = *body.get(i).ok_or(UnpackError::Truncated)?;
    i += 1;
    let code = (byte >> 4) & 7;
    let mut size = u64::from(byte & 0x0f);
    let mut shift = 4u32;
    while byte & 0x80 != 0 {
        byte = *body.get(i).ok_or(UnpackError::Truncated)?;
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
            let mut b = *body.get(i).ok_or(UnpackError::Truncated)?;
            i += 1;
            let mut back = u64::from(b & 0x7f);
            while b & 0x80 != 0 {
                b = *body.get(i).ok_or(UnpackError::Truncated)?;
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
            let raw: [u8; 20] = body
                .get(i..i + 20)
                .ok_or(UnpackError::Truncated)?
                .try_into()
                .map_err(|_| UnpackError::Truncated)?;
            i += 20;
            EntryKind::RefDelta(ObjectId::from_bytes(raw))
        }
        c => EntryKind::Base(ObjectKind::from_pack_code(c).ok_or(bad("unknown object type"))?),
    };
    let (_, used) = inflate_exact(&body[i..], size).map_err(bad)?;
    Ok(Entry {
        offset: pos,
        kind,
        size,
        data_start: i,
        data_end: i + used,
    })
}

/// Inflates the zlib stream at the start of `input`, which must give
/// exactly `size` bytes; the bytes and how much input the stream took.
fn inflate_exact(input: &[u8], size: u64) -> Result<(Vec<u8>, usize), &'static str> {
    let mut z = Decompress::new(true);
    let mut out = Vec::with_capacity(size as usize);
    loop {
        let before_in = z.total_in();
        let before_out = z.total_out();
        // One spare byte of room: a stream longer than declared shows.
        if out.len() as u64 > size {
            return Err("inflates to more than its declared size");
        }
        out.reserve((size as usize + 1).saturating_sub(out.len()).max(1));
        let status = z
            .decompress_vec(
                &input[z.total_in() as usize..],
                &mut out,
                FlushDecompress::None,
            )
            .map_err(|_| "zlib data is corrupt")?;
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
    if out.len() as u64 != size {
        return Err("inflated size differs from the header");
    }
    Ok((out, z.total_in() as usize))
}

/// Applies a git delta to `base`; the result may not exceed `max` bytes.
pub fn apply_delta(base: &[u8], delta: &[u8], max: u64) -> Result<Vec<u8>, &'static str> {
    let mut i = 0;
    let varint = |i: &mut usize| -> Result<u64, &'static str> {
        let (mut v, mut shift) = (0u64, 0u32);
        loop {
            let b = *delta.get(*i).ok_or("delta header is truncated")?;
            *i += 1;
            if shift > 63 {
                return Err("delta header too long");
            }
            v |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
    };
    let base_size = varint(&mut i)?;
    let result_size = varint(&mut i)?;
    if base_size != base.len() as u64 {
        return Err("delta base size differs from the base");
    }
    if result_size > max {
        return Err("delta result is larger than allowed");
    }
    let mut out = Vec::with_capacity(result_size as usize);
    while i < delta.len() {
        let op = delta[i];
        i += 1;
        if op & 0x80 != 0 {
            let mut field = |bits: u8, shifts: std::ops::Range<u32>| -> Result<u64, &'static str> {
                let mut v = 0u64;
                for (n, shift) in shifts.enumerate() {
                    if op & (bits << n) != 0 {
                        v |= u64::from(*delta.get(i).ok_or("delta copy is truncated")?)
                            << (shift * 8);
                        i += 1;
                    }
                }
                Ok(v)
            };
            let offset = field(0x01, 0..4)?;
            let mut len = field(0x10, 0..3)?;
            if len == 0 {
                len = 0x10000;
            }
            let end = offset.checked_add(len).ok_or("delta copy overflows")?;
            if end > base.len() as u64 {
                return Err("delta copies from outside its base");
            }
            out.extend_from_slice(&base[offset as usize..end as usize]);
        } else if op != 0 {
            let data = delta
                .get(i..i + op as usize)
                .ok_or("delta insert is truncated")?;
            out.extend_from_slice(data);
            i += op as usize;
        } else {
            return Err("delta has a reserved instruction");
        }
        if out.len() as u64 > result_size {
            return Err("delta writes more than its declared size");
        }
    }
    if out.len() as u64 != result_size {
        return Err("delta result size differs from its header");
    }
    Ok(out)
}

/// Resolved objects by pack offset, evicted oldest first past a byte budget.
#[derive(Default)]
struct ResolvedCache {
    map: HashMap<usize, (ObjectKind, Rc<Vec<u8>>)>,
    order: std::collections::VecDeque<usize>,
    bytes: usize,
}

impl ResolvedCache {
    fn get(&self, offset: usize) -> Option<(ObjectKind, Rc<Vec<u8>>)> {
        self.map.get(&offset).map(|(k, b)| (*k, Rc::clone(b)))
    }

    fn put(&mut self, offset: usize, kind: ObjectKind, body: Rc<Vec<u8>>) {
        if body.len() > CACHE_BYTES || self.map.contains_key(&offset) {
            return;
        }
        self.bytes += body.len();
        self.map.insert(offset, (kind, body));
        self.order.push_back(offset);
        while self.bytes > CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, b)) = self.map.remove(&old) {
                self.bytes -= b.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const LIMITS: UnpackLimits = UnpackLimits {
        max_objects: 100,
        max_object_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        max_delta_depth: 10,
    };

    /// An entry: header (type `code`, `size`), an optional base, zlib data.
    fn entry(code: u8, size: u64, base: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::git::pack::entry_header_code(code, size, &mut out);
        out.extend_from_slice(base);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(data).unwrap();
        out.extend(z.finish().unwrap());
        out
    }

    /// A sealed pack of `entries`.
    fn pack(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut p = b"PACK\0\0\0\x02".to_vec();
        p.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        for e in entries {
            p.extend_from_slice(e);
        }
        let sum = Sha1::digest(&p);
        p.extend_from_slice(&sum);
        p
    }

    #[test]
    fn hostile_packs_are_errors() {
        let blob = entry(3, 5, &[], b"hello");
        assert!(Unpacked::parse(&pack(std::slice::from_ref(&blob)), LIMITS).is_ok());
        // Two REF_DELTAs whose bases are each other: a cycle, never resolved.
        let delta = [5u8, 5, 0x90, 5];
        let (a, b) = (ObjectId::from_bytes([1; 20]), ObjectId::from_bytes([2; 20]));
        let cycle = pack(&[
            entry(7, delta.len() as u64, b.as_bytes(), &delta),
            entry(7, delta.len() as u64, a.as_bytes(), &delta),
        ]);
        assert!(matches!(
            Unpacked::parse(&cycle, LIMITS),
            Err(UnpackError::MissingBase(_))
        ));
        // An OFS_DELTA pointing before the pack, or at itself.
        let before = pack(&[blob.clone(), entry(6, 4, &[0x7f], &delta)]);
        assert!(matches!(
            Unpacked::parse(&before, LIMITS),
            Err(UnpackError::BadEntry(..))
        ));
        // An OFS_DELTA pointing inside an entry rather than at one.
        let inside = pack(&[blob.clone(), entry(6, 4, &[3], &delta)]);
        assert!(matches!(
            Unpacked::parse(&inside, LIMITS),
            Err(UnpackError::BadEntry(..))
        ));
        // A header that lies about the inflated size, either way.
        for size in [4, 6] {
            let lying = pack(&[entry(3, size, &[], b"hello")]);
            assert!(
                matches!(
                    Unpacked::parse(&lying, LIMITS),
                    Err(UnpackError::BadEntry(..))
                ),
                "{size}"
            );
        }
        // A delta that copies beyond its base.
        let blob_len = blob.len() as u8;
        let far = [5u8, 9, 0x90 | 0x01, 3, 9];
        let copy_out = pack(&[blob.clone(), entry(6, far.len() as u64, &[blob_len], &far)]);
        assert!(matches!(
            Unpacked::parse(&copy_out, LIMITS),
            Err(UnpackError::BadEntry(..))
        ));
        // A bomb: a small entry that claims (and inflates to) too much.
        let bomb = pack(&[entry(3, 2 << 20, &[], &vec![0u8; 2 << 20])]);
        assert_eq!(
            Unpacked::parse(&bomb, LIMITS).err(),
            Some(UnpackError::ObjectTooLarge(1 << 20))
        );
        // A count larger than the entries present.
        let mut short = pack(std::slice::from_ref(&blob));
        short[11] = 2;
        let body_end = short.len() - 20;
        let sum = Sha1::digest(&short[..body_end]);
        short[body_end..].copy_from_slice(&sum);
        assert_eq!(
            Unpacked::parse(&short, LIMITS).err(),
            Some(UnpackError::Truncated)
        );
    }

    #[test]
    fn deltas_copy_insert_and_refuse_what_lies() {
        let base = b"hello, world";
        // base 12, result 9: copy 5 from 0, insert " yo!"
        let delta = [12, 9, 0x80 | 0x01 | 0x10, 0, 5, 4, b' ', b'y', b'o', b'!'];
        assert_eq!(apply_delta(base, &delta, 100).unwrap(), b"hello yo!");
        let outside = [12, 5, 0x80 | 0x01 | 0x10, 10, 5];
        assert!(apply_delta(base, &outside, 100).is_err());
        let wrong_base = [11, 5, 5, 1, 2, 3, 4, 5];
        assert!(apply_delta(base, &wrong_base, 100).is_err());
        let too_big = [12, 200, 1];
        assert!(apply_delta(base, &too_big, 100).is_err());
        assert!(apply_delta(base, &[12, 3, 0], 100).is_err(), "reserved op");
    }
}
