//! A ZIP read by ranges: its directory sits at its end, so the caller puts
//! the body somewhere with random access (R2) and this reader asks for the
//! windows it needs, the directory first, then the entries in the order
//! they lie in the archive, yielding one file at a time.
//!
//! The `zip` crate does all the decoding; it reads from a `Window`, which
//! serves the loaded ranges and records the first offset it lacked, so a
//! step that ran out of bytes is retried once the caller supplied them.
//!
//! Invariants: memory holds the directory, one window and one file; a step
//! is retried only after its missing range was supplied, and an entry that
//! keeps asking for more than its own size is corrupt, so the reader always
//! ends.

use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom};
use std::rc::Rc;

use ::zip::read::{ArchiveOffset, Config};
use ::zip::{CompressionMethod, ZipArchive};

use super::{ArchiveError, ArchiveFile, ArchiveLimits, Collector};
use crate::git::RepoPath;

/// Bytes asked for when the reader runs out.
pub const WINDOW: u64 = 8 << 20;
/// The end of the archive read first: the end record with the longest
/// possible comment, and usually the whole directory.
const TAIL: u64 = 256 << 10;
/// The largest directory accepted (20,000 entries with long names fit).
const MAX_DIRECTORY: u64 = 16 << 20;

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;

/// What the reader did or needs.
#[derive(Debug)]
pub enum ZipStep {
    /// The next file.
    File(ArchiveFile),
    /// Bytes `offset..offset + len` of the archive, via `supply`.
    Need { offset: u64, len: u64 },
    /// Every entry was read.
    Done,
}

/// Reads a ZIP of known length by ranges.
pub struct ZipReader {
    len: u64,
    loaded: Rc<RefCell<Loaded>>,
    archive: Option<ZipArchive<Window>>,
    /// Entry indices in archive order, and the next one to read.
    order: Vec<usize>,
    next: usize,
    /// Ranges asked for on behalf of the current entry.
    asked: u64,
    c: Collector,
}

#[derive(Default)]
struct Loaded {
    segments: Vec<(u64, Vec<u8>)>,
    missing: Option<u64>,
}

/// What the `zip` crate reads from: the loaded ranges of the archive.
struct Window {
    loaded: Rc<RefCell<Loaded>>,
    pos: u64,
    len: u64,
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let mut loaded = self.loaded.borrow_mut();
        let hit = loaded
            .segments
            .iter()
            .find(|(start, bytes)| *start <= self.pos && self.pos < start + bytes.len() as u64);
        match hit {
            Some((start, bytes)) => {
                let from = (self.pos - start) as usize;
                let n = buf.len().min(bytes.len() - from);
                buf[..n].copy_from_slice(&bytes[from..from + n]);
                self.pos += n as u64;
                Ok(n)
            }
            None => {
                loaded.missing = Some(self.pos);
                Err(io::Error::other("range not loaded yet"))
            }
        }
    }
}

impl Seek for Window {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::other("seek before the start of the archive"))?;
        Ok(self.pos)
    }
}

impl ZipReader {
    /// A reader of an archive of `len` bytes, enforcing `limits`.
    pub fn new(len: u64, limits: ArchiveLimits) -> Result<Self, ArchiveError> {
        if len > limits.max_archive_bytes as u64 {
            return Err(ArchiveError::ArchiveTooLarge {
                limit: limits.max_archive_bytes,
            });
        }
        Ok(ZipReader {
            len,
            loaded: Rc::default(),
            archive: None,
            order: Vec::new(),
            next: 0,
            asked: 0,
            c: Collector::new(limits),
        })
    }

    /// Gives the reader the bytes at `offset` it asked for.
    pub fn supply(&mut self, offset: u64, bytes: Vec<u8>) {
        self.asked += bytes.len() as u64;
        self.loaded.borrow_mut().segments.push((offset, bytes));
    }

    /// The range to ask for when a read stopped at `at`.
    fn need(&self, at: u64, len: u64) -> ZipStep {
        ZipStep::Need {
            offset: at,
            len: len.min(self.len - at),
        }
    }

    /// The offset a failed read stopped at, if it only lacked bytes.
    fn missing(&self) -> Option<u64> {
        self.loaded.borrow_mut().missing.take()
    }

    /// Reads on: the next file, a range it needs, or the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<ZipStep, ArchiveError> {
        let corrupt = |e: ::zip::result::ZipError| ArchiveError::Corrupt(e.to_string());
        if self.archive.is_none() {
            if self.loaded.borrow().segments.is_empty() {
                let tail = TAIL.min(self.len);
                return Ok(self.need(self.len - tail, tail));
            }
            let window = Window {
                loaded: Rc::clone(&self.loaded),
                pos: 0,
                len: self.len,
            };
            let config = Config {
                archive_offset: ArchiveOffset::Known(0),
            };
            match ZipArchive::with_config(config, window) {
                Ok(zip) => {
                    let mut order: Vec<(u64, usize)> = (0..zip.len())
                        .map(|i| Ok((zip.by_index_data(i).map_err(corrupt)?.header_start(), i)))
                        .collect::<Result<_, ArchiveError>>()?;
                    order.sort_unstable();
                    self.order = order.into_iter().map(|(_, i)| i).collect();
                    self.archive = Some(zip);
                    // The directory is parsed; keep only a whole archive.
                    self.loaded.borrow_mut().segments.retain(|(s, _)| *s == 0);
                    self.asked = 0;
                }
                Err(e) => {
                    return match self.missing() {
                        Some(at) if self.len - at <= MAX_DIRECTORY => {
                            Ok(self.need(at, self.len - at))
                        }
                        Some(_) => Err(ArchiveError::Corrupt(
                            "the ZIP's central directory is implausibly large".into(),
                        )),
                        None => Err(corrupt(e)),
                    };
                }
            }
        }
        loop {
            let Some(&index) = self.order.get(self.next) else {
                return Ok(ZipStep::Done);
            };
            let zip = self.archive.as_mut().expect("opened above");
            let entry = zip.by_index_data(index).map_err(corrupt)?;
            let name = std::str::from_utf8(entry.name_raw())
                .map_err(|_| ArchiveError::NonUtf8Name)?
                .to_string();
            if entry.encrypted() {
                return Err(ArchiveError::Encrypted(name));
            }
            if entry.is_symlink() {
                return Err(ArchiveError::Symlink(name));
            }
            let kind = entry.unix_mode().map(|m| m & S_IFMT).unwrap_or(0);
            if kind != 0 && kind != S_IFREG && kind != S_IFDIR {
                return Err(ArchiveError::SpecialFile(name));
            }
            if !matches!(
                entry.compression(),
                CompressionMethod::Stored | CompressionMethod::Deflated
            ) {
                return Err(ArchiveError::UnsupportedCompression(name));
            }
            let declared = entry.size();
            let compressed = entry.compressed_size();
            if declared > (1 << 20) && declared / compressed.max(1) > self.c.limits.max_ratio {
                return Err(ArchiveError::CompressionBomb(name));
            }
            let exec = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
            let start = entry.header_start();
            if entry.is_dir() || kind == S_IFDIR {
                RepoPath::parse(name.trim_end_matches('/'))?;
                self.advance();
                continue;
            }
            // The local header, the data and a descriptor, in a few windows.
            if self.asked > compressed + WINDOW * 2 + (256 << 10) {
                return Err(ArchiveError::Corrupt(format!(
                    "`{name}` does not lie where the ZIP's directory says"
                )));
            }
            let path = RepoPath::parse(&name)?;
            let read = match zip.by_index(index) {
                Ok(mut file) => self.c.read(&path, &mut file, declared),
                Err(e) => Err(corrupt(e)),
            };
            match read {
                Ok(content) => {
                    let path = self.c.admit(&name)?;
                    self.advance();
                    return Ok(ZipStep::File(ArchiveFile {
                        path,
                        exec,
                        content,
                    }));
                }
                Err(e) => {
                    return match self.missing() {
                        Some(at) if at >= start => Ok(self.need(at, WINDOW)),
                        _ => Err(e),
                    };
                }
            }
        }
    }

    /// Moves to the next entry, dropping windows that end before it.
    fn advance(&mut self) {
        self.next += 1;
        self.asked = 0;
        let next_start = self
            .order
            .get(self.next)
            .and_then(|&i| self.archive.as_ref()?.by_index_data(i).ok())
            .map(|e| e.header_start())
            .unwrap_or(u64::MAX);
        self.loaded
            .borrow_mut()
            .segments
            .retain(|(start, bytes)| start + bytes.len() as u64 > next_start);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use ::zip::write::SimpleFileOptions;

    use super::*;
    use crate::catalog::archive::{read_archive, IMPORT_LIMITS};

    fn zip_of(files: &[(String, Vec<u8>, CompressionMethod)]) -> Vec<u8> {
        let mut w = ::zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for (name, content, method) in files {
            w.start_file(
                name.as_str(),
                SimpleFileOptions::default().compression_method(*method),
            )
            .unwrap();
            w.write_all(content).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// Reads `zip` answering each `Need` with exactly the range asked for,
    /// as the Worker does from R2; the files and how many reads it took.
    fn by_ranges(zip: &[u8]) -> Result<(Vec<ArchiveFile>, usize), ArchiveError> {
        let mut r = ZipReader::new(zip.len() as u64, IMPORT_LIMITS)?;
        let (mut files, mut reads) = (Vec::new(), 0);
        loop {
            match r.next()? {
                ZipStep::File(f) => files.push(f),
                ZipStep::Need { offset, len } => {
                    reads += 1;
                    assert!(reads < 100, "the reader keeps asking");
                    let range = offset as usize..(offset + len) as usize;
                    r.supply(offset, zip[range].to_vec());
                }
                ZipStep::Done => return Ok((files, reads)),
            }
        }
    }

    #[test]
    fn ranged_reads_give_the_files_of_a_whole_read() {
        // A directory larger than the tail, and a stored file larger than
        // a window (pseudo-random, so deflate could not shrink it either).
        let mut files: Vec<(String, Vec<u8>, CompressionMethod)> = (0..3000)
            .map(|i| {
                (
                    format!("plugins/p{}/{}/file-{i}.md", i % 40, "n".repeat(60)),
                    format!("content {i}").into_bytes(),
                    CompressionMethod::Deflated,
                )
            })
            .collect();
        let mut x = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..9 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        files.insert(1500, ("big.bin".into(), noise, CompressionMethod::Stored));
        let zip = zip_of(&files);
        let (ranged, reads) = by_ranges(&zip).unwrap();
        assert_eq!(ranged, read_archive(zip.as_slice(), IMPORT_LIMITS).unwrap());
        assert_eq!(ranged.len(), 3001);
        assert!(
            reads <= 2 + zip.len() / WINDOW as usize + 2,
            "{reads} reads for {} bytes",
            zip.len()
        );
    }

    #[test]
    fn a_lying_directory_is_corrupt_not_a_loop() {
        let mut zip = zip_of(&[("a.md".into(), b"hello".to_vec(), CompressionMethod::Stored)]);
        // Point the entry's local header offset (central directory offset
        // 42) far into the archive.
        let cd = zip.len() - 22 - (46 + 4);
        assert_eq!(&zip[cd..cd + 4], b"PK\x01\x02");
        zip[cd + 42..cd + 46].copy_from_slice(&20u32.to_le_bytes());
        let e = by_ranges(&zip).unwrap_err();
        assert_eq!(e.code(), "archive_corrupt", "{e}");
    }
}
