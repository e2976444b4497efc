//! The ZIP channel: a deterministic ZIP of a served tree, written member by
//! member so it can stream, with its length known before the first byte.
//!
//! A member's data is raw deflate. Files stored as pack entries already
//! hold it: a pack entry is a header and a zlib stream, and a zlib stream is
//! two header bytes, raw deflate and a four-byte checksum, so the ZIP
//! splices the middle and never recompresses; only the CRC-32 needs the
//! inflated bytes.
//!
//! Invariants: the same files give the same bytes: members sorted by path,
//! every timestamp 1980-01-01 00:00, modes 0644/0755, UTF-8 names, no extra
//! fields; `layout` computes the exact length the writer then produces; at
//! most 65,535 members and 4 GiB (no ZIP64), else a clear error.

use std::io::Write;

use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};

use crate::git::pack::{entry_header, parse_entry_header, PackError, DEFAULT_LEVEL};
use crate::git::ObjectKind;

/// Why a ZIP cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ZipExportError {
    #[error("the view holds {0} files; a ZIP holds at most 65,535 (clone it with git instead)")]
    TooManyFiles(usize),
    #[error(
        "the view is larger than a ZIP without ZIP64 can hold (4 GiB); clone it with git instead"
    )]
    TooLarge,
    #[error("a stored entry is malformed: {0}")]
    BadEntry(String),
}

impl From<PackError> for ZipExportError {
    fn from(e: PackError) -> Self {
        ZipExportError::BadEntry(e.to_string())
    }
}

/// One member as laid out: its name, mode, inflated size and the length of
/// its raw deflate data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipMember {
    pub path: String,
    pub exec: bool,
    pub size: u64,
    pub deflated_len: u64,
}

const LOCAL_HEADER: u64 = 30;
const CENTRAL_HEADER: u64 = 46;
const END_RECORD: u64 = 22;
/// `version made by`: Unix (3), spec 2.0.
const MADE_BY: u16 = (3 << 8) | 20;
const NEEDED: u16 = 20;
/// General purpose flags: names are UTF-8.
const UTF8: u16 = 1 << 11;
const DEFLATE: u16 = 8;
/// 1980-01-01 as an MS-DOS date; the time is 00:00.
const DOS_DATE: u16 = (1 << 5) | 1;

/// Sorts `members` by path and returns the ZIP's exact length.
pub fn layout(members: &mut [ZipMember]) -> Result<u64, ZipExportError> {
    if members.len() > u16::MAX as usize {
        return Err(ZipExportError::TooManyFiles(members.len()));
    }
    members.sort_by(|a, b| a.path.cmp(&b.path));
    let total = members.iter().fold(END_RECORD, |acc, m| {
        acc + LOCAL_HEADER + CENTRAL_HEADER + 2 * m.path.len() as u64 + m.deflated_len
    });
    let too_big = members.iter().any(|m| m.size > u32::MAX as u64);
    if total > u32::MAX as u64 || too_big {
        return Err(ZipExportError::TooLarge);
    }
    Ok(total)
}

/// The raw deflate length inside a stored blob entry of `entry_len` bytes
/// for a file of `size` bytes.
pub fn entry_deflated_len(size: u64, entry_len: u64) -> Result<u64, ZipExportError> {
    let mut header = Vec::new();
    entry_header(ObjectKind::Blob, size, &mut header);
    entry_len
        .checked_sub(header.len() as u64 + 6)
        .ok_or_else(|| ZipExportError::BadEntry("entry shorter than its framing".into()))
}

/// The raw deflate data inside a pack entry (`entry header`, then zlib).
pub fn entry_deflate(entry: &[u8]) -> Result<&[u8], ZipExportError> {
    let (_, _, header_len) = parse_entry_header(entry)?;
    let zlib = &entry[header_len..];
    // CMF says deflate; FLG must not ask for a preset dictionary.
    if zlib.len() < 6 || zlib[0] & 0x0f != 8 || zlib[1] & 0x20 != 0 {
        return Err(ZipExportError::BadEntry("not a plain zlib stream".into()));
    }
    Ok(&zlib[2..zlib.len() - 4])
}

/// `content` as raw deflate at the level pack entries use.
pub fn deflate(content: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::new(DEFAULT_LEVEL));
    e.write_all(content).expect("writing to memory");
    e.finish().expect("writing to memory")
}

/// CRC-32 of `content`, as ZIP records it.
pub fn crc32(content: &[u8]) -> u32 {
    let mut c = Crc::new();
    c.update(content);
    c.sum()
}

/// Writes members in `layout` order, then the central directory.
#[derive(Default)]
pub struct ZipWriter {
    offset: u64,
    central: Vec<u8>,
    count: u16,
}

impl ZipWriter {
    /// A writer at offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The local header and data of `m`, whose content has CRC `crc` and
    /// whose raw deflate data is `data`.
    pub fn member(&mut self, m: &ZipMember, crc: u32, data: &[u8]) -> Vec<u8> {
        debug_assert_eq!(data.len() as u64, m.deflated_len);
        let name = m.path.as_bytes();
        let mut out = Vec::with_capacity(LOCAL_HEADER as usize + name.len() + data.len());
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&NEEDED.to_le_bytes());
        Self::fields(&mut out, crc, data.len() as u64, m);
        out.extend_from_slice(&0u16.to_le_bytes()); // extra field length
        out.extend_from_slice(name);
        out.extend_from_slice(data);

        let c = &mut self.central;
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        c.extend_from_slice(&MADE_BY.to_le_bytes());
        c.extend_from_slice(&NEEDED.to_le_bytes());
        let mut fields = Vec::new();
        Self::fields(&mut fields, crc, data.len() as u64, m);
        c.extend_from_slice(&fields);
        c.extend_from_slice(&[0; 2]); // extra field length
        c.extend_from_slice(&[0; 2]); // comment length
        c.extend_from_slice(&[0; 2]); // disk number
        c.extend_from_slice(&[0; 2]); // internal attributes
        let mode: u32 = if m.exec { 0o100755 } else { 0o100644 };
        c.extend_from_slice(&(mode << 16).to_le_bytes());
        c.extend_from_slice(&(self.offset as u32).to_le_bytes());
        c.extend_from_slice(name);
        self.offset += out.len() as u64;
        self.count += 1;
        out
    }

    /// Flags, method, time, date, CRC, sizes and name length: the fields
    /// local and central headers share.
    fn fields(out: &mut Vec<u8>, crc: u32, deflated: u64, m: &ZipMember) {
        out.extend_from_slice(&UTF8.to_le_bytes());
        out.extend_from_slice(&DEFLATE.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&DOS_DATE.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(deflated as u32).to_le_bytes());
        out.extend_from_slice(&(m.size as u32).to_le_bytes());
        out.extend_from_slice(&(m.path.len() as u16).to_le_bytes());
    }

    /// The central directory and end record.
    pub fn finish(self) -> Vec<u8> {
        let mut out = self.central;
        let size = out.len() as u32;
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]); // disk numbers
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(self.offset as u32).to_le_bytes());
        out.extend_from_slice(&[0; 2]); // comment length
        out
    }
}

/// A file for `build_zip`: path, exec bit, content.
pub type ZipFile = (String, bool, Vec<u8>);

/// The whole ZIP of `files` in memory (small ZIPs and tests).
pub fn build_zip(files: &[ZipFile]) -> Result<Vec<u8>, ZipExportError> {
    let deflated: Vec<Vec<u8>> = files.iter().map(|f| deflate(&f.2)).collect();
    let mut members: Vec<(ZipMember, usize)> = files
        .iter()
        .enumerate()
        .map(|(i, (path, exec, content))| {
            let m = ZipMember {
                path: path.clone(),
                exec: *exec,
                size: content.len() as u64,
                deflated_len: deflated[i].len() as u64,
            };
            (m, i)
        })
        .collect();
    members.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    let mut plain: Vec<ZipMember> = members.iter().map(|(m, _)| m.clone()).collect();
    let len = layout(&mut plain)?;
    let mut w = ZipWriter::new();
    let mut out = Vec::with_capacity(len as usize);
    for (m, i) in &members {
        out.extend(w.member(m, crc32(&files[*i].2), &deflated[*i]));
    }
    out.extend(w.finish());
    debug_assert_eq!(out.len() as u64, len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::archive::{read_archive, IMPORT_LIMITS};
    use crate::git::pack::PackEntry;

    #[test]
    fn deterministic_exact_length_and_round_trips() {
        let a = vec![
            ("b/x.sh".to_string(), true, b"#!/bin/sh\n".to_vec()),
            ("a.md".to_string(), false, b"hi".to_vec()),
            ("empty".to_string(), false, Vec::new()),
        ];
        let b = vec![a[2].clone(), a[1].clone(), a[0].clone()];
        let (za, zb) = (build_zip(&a).unwrap(), build_zip(&b).unwrap());
        assert_eq!(za, zb, "input order does not matter");
        let back = read_archive(za.as_slice(), IMPORT_LIMITS).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!((back[0].path.as_str(), back[0].exec), ("a.md", false));
        assert_eq!(
            (
                back[1].path.as_str(),
                back[1].exec,
                back[1].content.as_slice()
            ),
            ("b/x.sh", true, &b"#!/bin/sh\n"[..])
        );
        assert!(back[2].content.is_empty());
    }

    #[test]
    fn pack_entries_splice_into_members() {
        let content = b"spliced, not recompressed ".repeat(100);
        let entry = PackEntry::compress(ObjectKind::Blob, &content, DEFAULT_LEVEL).into_bytes();
        let data = entry_deflate(&entry).unwrap();
        assert_eq!(
            data.len() as u64,
            entry_deflated_len(content.len() as u64, entry.len() as u64).unwrap()
        );
        assert_eq!(data, deflate(&content).as_slice(), "same level, same bytes");
        let mut members = vec![ZipMember {
            path: "f.md".into(),
            exec: false,
            size: content.len() as u64,
            deflated_len: data.len() as u64,
        }];
        let len = layout(&mut members).unwrap();
        let mut w = ZipWriter::new();
        let mut zip = w.member(&members[0], crc32(&content), data);
        zip.extend(w.finish());
        assert_eq!(zip.len() as u64, len);
        assert_eq!(
            read_archive(zip.as_slice(), IMPORT_LIMITS).unwrap()[0].content,
            content
        );
    }
}
