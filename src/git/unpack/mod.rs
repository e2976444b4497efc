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
//! A pack too large to hold is read from windows instead (`PackWindows`):
//! every step that reaches bytes not loaded stops with `UnpackError::Need`
//! naming them, keeping what it did; the caller loads them (`supply`) and
//! runs the step again (`Unpacked::open`, `index`, `name`, `object`,
//! `stored_entry` are all resumable this way). Memory then holds a few
//! windows, the index and the cache: it is bounded by the largest object,
//! not by the pack. The trailer of a windowed pack is checked as it
//! arrives (`TrailerCheck`).
//!
//! Invariants: nothing here panics on any input; every size is checked
//! against `UnpackLimits` before it is allocated, and every inflated length
//! against the size its header declared; a delta's copy stays inside its
//! base; a delta chain is at most `max_delta_depth` long and cannot loop; a
//! base missing from the pack (a thin pack) is an error.

mod cache;
mod delta;
mod entry;
mod limits;
mod source;

use std::collections::HashMap;
use std::rc::Rc;

use sha1::{Digest, Sha1};

use crate::git::object::ObjectKind;
use crate::git::oid::ObjectId;
use cache::ResolvedCache;
pub use delta::apply_delta;
use entry::{be32, inflate_exact, read_entry, Entry, EntryKind};
pub use limits::{UnpackError, UnpackLimits};
pub use source::{PackBytes, PackWindows, TrailerCheck};

/// A parsed pack: every object's id, kind and where to rebuild it from.
pub struct Unpacked<S> {
    src: S,
    limits: UnpackLimits,
    entries: Vec<Entry>,
    /// Index into `entries` by pack offset.
    at: HashMap<usize, usize>,
    by_id: HashMap<ObjectId, (ObjectKind, usize)>,
    /// Each entry's delta chain length, once resolved.
    depth: Vec<Option<u32>>,
    cache: ResolvedCache,
    /// The index pass: entries the header promises, where the next begins,
    /// and the inflated bytes so far.
    count: u32,
    next_pos: usize,
    total: u64,
    /// The naming pass: entries not named yet (`None` before it starts).
    unnamed: Option<Vec<usize>>,
}

impl<'p> Unpacked<&'p [u8]> {
    /// Parses and verifies a whole `pack` in memory; every object is named
    /// by hashing it.
    pub fn parse(pack: &'p [u8], limits: UnpackLimits) -> Result<Self, UnpackError> {
        if pack.len() < 32 {
            return Err(UnpackError::Truncated);
        }
        let body_end = pack.len() - 20;
        if Sha1::digest(&pack[..body_end]).as_slice() != &pack[body_end..] {
            // The header is judged first: garbage is a bad header.
            Self::open(pack, limits)?;
            return Err(UnpackError::BadChecksum);
        }
        let mut u = Self::open(pack, limits)?;
        u.index()?;
        u.name()?;
        Ok(u)
    }
}

impl<S: PackBytes> Unpacked<S> {
    /// Starts reading the pack in `src` (its header; resumable). The
    /// trailer is the caller's to check (`parse` does, `TrailerCheck` does
    /// as a staged pack arrives).
    pub fn open(src: S, limits: UnpackLimits) -> Result<Self, UnpackError> {
        if src.pack_len() < 32 {
            return Err(UnpackError::Truncated);
        }
        let head = src.bytes(0, 12)?;
        if &head[..4] != b"PACK" || !matches!(be32(&head[4..8]), 2 | 3) {
            return Err(UnpackError::BadHeader);
        }
        let count = be32(&head[8..12]);
        if count > limits.max_objects {
            return Err(UnpackError::TooManyObjects(limits.max_objects));
        }
        Ok(Unpacked {
            src,
            limits,
            entries: Vec::with_capacity(count as usize),
            at: HashMap::new(),
            by_id: HashMap::new(),
            depth: vec![None; count as usize],
            cache: ResolvedCache::default(),
            count,
            next_pos: 12,
            total: 0,
            unnamed: None,
        })
    }

    /// The source, to load what a `Need` asked for.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.src
    }

    /// Walks every entry once, in pack order (resumable).
    pub fn index(&mut self) -> Result<(), UnpackError> {
        let body_end = self.src.pack_len() - 20;
        while (self.entries.len() as u32) < self.count {
            let entry = read_entry(&self.src, self.next_pos, body_end, &self.limits)?;
            self.total += entry.size;
            if self.total > self.limits.max_total_bytes {
                return Err(UnpackError::TooLarge(self.limits.max_total_bytes));
            }
            self.next_pos = entry.data_end;
            self.at.insert(entry.offset, self.entries.len());
            self.entries.push(entry);
        }
        if self.next_pos != body_end {
            return Err(UnpackError::BadEntry(
                self.next_pos,
                "bytes after the last entry",
            ));
        }
        Ok(())
    }

    /// Names every object by hashing it (after `index`; resumable).
    pub fn name(&mut self) -> Result<(), UnpackError> {
        if self.unnamed.is_none() {
            self.unnamed = Some((0..self.entries.len()).collect());
        }
        self.name_objects()
    }

    /// Hashes every object; REF_DELTA bases may come later in the pack,
    /// so deltas whose base is not named yet wait for the next round, until
    /// a round names nothing more. Named entries leave `unnamed` at once,
    /// so a step stopped by `Need` resumes where it was.
    fn name_objects(&mut self) -> Result<(), UnpackError> {
        loop {
            let pending = self.unnamed.take().unwrap_or_default();
            if pending.is_empty() {
                self.unnamed = Some(pending);
                return Ok(());
            }
            let before = pending.len();
            let mut waiting = Vec::new();
            for (n, &i) in pending.iter().enumerate() {
                match self.resolve(i) {
                    Ok((kind, body)) => {
                        let id = kind.id_of(&body);
                        self.by_id.entry(id).or_insert((kind, i));
                    }
                    Err(UnpackError::MissingBase(_)) => waiting.push(i),
                    Err(e) => {
                        // Keep what is left for the next call.
                        waiting.extend_from_slice(&pending[n..]);
                        self.unnamed = Some(waiting);
                        return Err(e);
                    }
                }
            }
            if waiting.len() == before {
                let base = match self.chain_root(waiting[0]) {
                    EntryKind::RefDelta(id) => id.to_hex(),
                    _ => "unknown".into(),
                };
                self.unnamed = Some(waiting);
                return Err(UnpackError::MissingBase(base));
            }
            self.unnamed = Some(waiting);
        }
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
    pub fn stored_entry(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, UnpackError> {
        let Some(&(_, i)) = self.by_id.get(id) else {
            return Ok(None);
        };
        let e = &self.entries[i];
        if !matches!(e.kind, EntryKind::Base(_)) {
            return Ok(None);
        }
        Ok(Some(self.src.bytes(e.offset, e.data_end)?.to_vec()))
    }

    /// Object `id`'s kind and content.
    pub fn object(&mut self, id: &ObjectId) -> Result<(ObjectKind, Rc<Vec<u8>>), UnpackError> {
        let &(_, i) = self.by_id.get(id).ok_or(UnpackError::NotFound(*id))?;
        self.resolve(i)
    }

    /// Object `id`'s kind and content, owned: a large object the cache
    /// kept only as the last one resolved is let go of rather than copied.
    pub fn object_owned(&mut self, id: &ObjectId) -> Result<(ObjectKind, Vec<u8>), UnpackError> {
        let (kind, body) = self.object(id)?;
        let &(_, i) = self.by_id.get(id).ok_or(UnpackError::NotFound(*id))?;
        self.cache.let_go(self.entries[i].offset);
        Ok((
            kind,
            Rc::try_unwrap(body).unwrap_or_else(|shared| (*shared).clone()),
        ))
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
        let (out, _) = inflate_exact(self.src.bytes(e.data_start, e.data_end)?, e.size)
            .map_err(|why| UnpackError::BadEntry(e.offset, why))?;
        Ok(out)
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
