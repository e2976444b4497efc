//! A `.tar.gz` read as a stream: fed the body as it arrives, it yields each
//! file once its last byte has been inflated, so memory holds one file and
//! a block, never the archive.
//!
//! Header decoding (ustar prefixes, GNU and pax records) is the `tar`
//! crate's; this module only frames the stream into 512-byte blocks, which
//! the crate's own reader cannot do without blocking on a `Read`.
//!
//! Invariants: a file's size is checked against the limits from its header
//! before its bytes are kept; inflated bytes beyond what the limits allow
//! (content plus headers and padding) are refused as a bomb; a stream that
//! ends inside an entry is corrupt.

use std::io::{self, Write};

use flate2::write::GzDecoder;

use super::{ArchiveError, ArchiveFile, ArchiveLimits, Collector};
use crate::git::RepoPath;

const BLOCK: usize = 512;
/// Longest pax or GNU long-name record accepted (names are far shorter).
const MAX_RECORD: u64 = 64 << 10;

/// Reads a `.tar.gz` pushed to it in pieces.
pub struct TarGzReader {
    gz: GzDecoder<TarFramer>,
}

impl TarGzReader {
    /// A reader enforcing `limits` (but `max_archive_bytes`, which the
    /// caller counts as the body arrives).
    pub fn new(limits: ArchiveLimits) -> Self {
        // Headers and padding add at most 1.5 KiB per entry on top of the
        // content limit; anything beyond is a bomb.
        let cap = limits.max_total_bytes as u64 + (limits.max_files as u64 + 16) * 1536 + 4096;
        TarGzReader {
            gz: GzDecoder::new(TarFramer {
                c: Collector::new(limits),
                state: State::Header,
                buf: Vec::with_capacity(BLOCK),
                inflated: 0,
                cap,
                next_name: None,
                next_size: None,
                out: Vec::new(),
                refused: None,
            }),
        }
    }

    /// Feeds the next piece of the body; the files it completed.
    pub fn push(&mut self, mut bytes: &[u8]) -> Result<Vec<ArchiveFile>, ArchiveError> {
        while !bytes.is_empty() {
            match self.gz.write(bytes) {
                // The gzip member has ended: what follows is not inflated.
                Ok(0) => break,
                Ok(n) => bytes = &bytes[n..],
                Err(e) => return Err(self.refusal(e)),
            }
        }
        self.gz.flush().map_err(|e| self.refusal(e))?;
        Ok(std::mem::take(&mut self.gz.get_mut().out))
    }

    /// Ends the stream; the files completed by its last bytes.
    pub fn finish(mut self) -> Result<Vec<ArchiveFile>, ArchiveError> {
        self.gz.try_finish().map_err(|e| self.refusal(e))?;
        let framer = self.gz.get_mut();
        match &framer.state {
            State::Header | State::End if framer.buf.is_empty() => {
                Ok(std::mem::take(&mut framer.out))
            }
            State::Data {
                kind: Data::File { path, .. },
                ..
            } => Err(ArchiveError::Corrupt(format!(
                "the archive ends in the middle of `{path}`"
            ))),
            _ => Err(ArchiveError::Corrupt(
                "the archive ends in the middle of an entry".into(),
            )),
        }
    }

    /// The framer's refusal behind an I/O error, else the error as corruption.
    fn refusal(&mut self, e: io::Error) -> ArchiveError {
        self.gz
            .get_mut()
            .refused
            .take()
            .unwrap_or_else(|| ArchiveError::Corrupt(e.to_string()))
    }
}

/// What an entry's data blocks are.
enum Data {
    File {
        path: RepoPath,
        exec: bool,
    },
    /// A pax extended header for the next entry.
    Pax,
    /// A GNU long name for the next entry.
    LongName,
    /// Bytes nobody needs (directory data, global pax headers, long links).
    Skip,
}

enum State {
    /// Gathering a 512-byte header in `buf`.
    Header,
    /// `need` more data bytes of an entry, then `pad` bytes to the block.
    Data { kind: Data, need: u64, pad: u64 },
    /// Skipping the padding after an entry.
    Pad(u64),
    /// After the end-of-archive block: the rest is ignored.
    End,
}

/// The inflated side: frames blocks and collects files.
struct TarFramer {
    c: Collector,
    state: State,
    buf: Vec<u8>,
    inflated: u64,
    cap: u64,
    /// A pax or GNU long name for the next entry.
    next_name: Option<Vec<u8>>,
    /// A pax size for the next entry.
    next_size: Option<u64>,
    out: Vec<ArchiveFile>,
    /// Why the stream was refused (the I/O error only carries a string).
    refused: Option<ArchiveError>,
}

impl Write for TarFramer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.refused.is_some() {
            return Err(io::Error::other("archive refused"));
        }
        self.inflated += data.len() as u64;
        let result = if self.inflated > self.cap {
            Err(ArchiveError::TooManyBytes {
                limit: self.c.limits.max_total_bytes,
            })
        } else {
            self.consume(data)
        };
        match result {
            Ok(()) => Ok(data.len()),
            Err(e) => {
                self.refused = Some(e);
                Err(io::Error::other("archive refused"))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TarFramer {
    fn consume(&mut self, mut data: &[u8]) -> Result<(), ArchiveError> {
        while !data.is_empty() {
            match &mut self.state {
                State::End => return Ok(()),
                State::Header => {
                    let take = (BLOCK - self.buf.len()).min(data.len());
                    self.buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.buf.len() == BLOCK {
                        self.header()?;
                    }
                }
                State::Pad(left) => {
                    let take = (*left).min(data.len() as u64);
                    *left -= take;
                    data = &data[take as usize..];
                    if *left == 0 {
                        self.state = State::Header;
                    }
                }
                State::Data { kind, need, .. } => {
                    let take = (*need).min(data.len() as u64) as usize;
                    if !matches!(kind, Data::Skip) {
                        self.buf.extend_from_slice(&data[..take]);
                    }
                    *need -= take as u64;
                    data = &data[take..];
                    if *need == 0 {
                        self.end_of_data();
                    }
                }
            }
        }
        Ok(())
    }

    /// Decodes the header in `buf` and moves to its data.
    fn header(&mut self) -> Result<(), ArchiveError> {
        let block = std::mem::take(&mut self.buf);
        if block.iter().all(|&b| b == 0) {
            self.state = State::End;
            return Ok(());
        }
        let h = tar::Header::from_byte_slice(&block);
        let stored = h
            .cksum()
            .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        let sum: u32 = block
            .iter()
            .enumerate()
            .map(|(i, &b)| if (148..156).contains(&i) { b' ' } else { b } as u32)
            .sum();
        if stored != sum {
            return Err(ArchiveError::Corrupt(
                "a tar header's checksum does not match".into(),
            ));
        }
        let size = match self.next_size.take() {
            Some(s) => s,
            None => h
                .entry_size()
                .map_err(|e| ArchiveError::Corrupt(e.to_string()))?,
        };
        let raw_name = self
            .next_name
            .take()
            .unwrap_or_else(|| h.path_bytes().into_owned());
        let name = || -> Result<String, ArchiveError> {
            let name = std::str::from_utf8(&raw_name).map_err(|_| ArchiveError::NonUtf8Name)?;
            Ok(name.strip_prefix("./").unwrap_or(name).to_string())
        };
        use tar::EntryType as T;
        let kind = match h.entry_type() {
            T::Directory => {
                let name = name()?;
                if !name.is_empty() && name != "." {
                    RepoPath::parse(name.trim_end_matches('/'))?;
                }
                Data::Skip
            }
            T::Regular | T::Continuous => {
                let name = name()?;
                let path = self.c.admit(&name)?;
                self.c.reserve(&path, size)?;
                let exec = h.mode().is_ok_and(|m| m & 0o111 != 0);
                self.buf.reserve_exact(size as usize);
                Data::File { path, exec }
            }
            T::Symlink | T::Link => return Err(ArchiveError::Symlink(name()?)),
            T::XHeader | T::GNULongName if size > MAX_RECORD => {
                return Err(ArchiveError::Corrupt(
                    "a tar name record is implausibly long".into(),
                ))
            }
            T::XHeader => Data::Pax,
            T::GNULongName => Data::LongName,
            T::XGlobalHeader | T::GNULongLink => Data::Skip,
            _ => return Err(ArchiveError::SpecialFile(name()?)),
        };
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        self.state = State::Data {
            kind,
            need: size,
            pad,
        };
        if size == 0 {
            self.end_of_data();
        }
        Ok(())
    }

    /// An entry's data is complete in `buf`: use it, then skip the padding.
    fn end_of_data(&mut self) {
        let State::Data { kind, pad, .. } = std::mem::replace(&mut self.state, State::Header)
        else {
            return;
        };
        let data = std::mem::take(&mut self.buf);
        match kind {
            Data::File { path, exec } => self.out.push(ArchiveFile {
                path,
                exec,
                content: data,
            }),
            Data::LongName => {
                let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                self.next_name = Some(data[..end].to_vec());
            }
            Data::Pax => {
                for ext in tar::PaxExtensions::new(&data).flatten() {
                    match ext.key() {
                        Ok("path") => self.next_name = Some(ext.value_bytes().to_vec()),
                        Ok("size") => {
                            self.next_size = ext.value().ok().and_then(|v| v.parse().ok())
                        }
                        _ => {}
                    }
                }
            }
            Data::Skip => {}
        }
        if pad > 0 {
            self.state = State::Pad(pad);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::archive::IMPORT_LIMITS;

    fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, content) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // `append_data` writes GNU long-name records for long paths.
            b.append_data(&mut h, name, *content).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    fn read_in_pieces(body: &[u8], piece: usize) -> Result<Vec<ArchiveFile>, ArchiveError> {
        let mut r = TarGzReader::new(IMPORT_LIMITS);
        let mut files = Vec::new();
        for chunk in body.chunks(piece) {
            files.extend(r.push(chunk)?);
        }
        files.extend(r.finish()?);
        Ok(files)
    }

    #[test]
    fn any_piece_size_gives_the_same_files() {
        let long = format!("{}/file.md", "d".repeat(150));
        let big = vec![7u8; 3000];
        let body = tar_gz(&[("a.md", b"alpha"), (&long, b"long"), ("b.bin", &big)]);
        let whole = read_in_pieces(&body, body.len()).unwrap();
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[1].path.as_str(), long);
        assert_eq!(whole[2].content, big);
        for piece in [1, 7, 512, 513, 4096] {
            assert_eq!(read_in_pieces(&body, piece).unwrap(), whole, "{piece}");
        }
    }

    #[test]
    fn truncation_and_bad_checksums_are_corrupt() {
        let body = tar_gz(&[("a.md", &[1u8; 2000])]);
        // Re-compress a truncated tar, so the gzip layer is intact.
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut tar)
            .unwrap();
        let regz = |t: &[u8]| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(t).unwrap();
            gz.finish().unwrap()
        };
        let cut = read_in_pieces(&regz(&tar[..1000]), 100).unwrap_err();
        assert_eq!(cut.code(), "archive_corrupt", "{cut}");
        tar[0] ^= 1;
        let bad = read_in_pieces(&regz(&tar), 100).unwrap_err();
        assert_eq!(bad.code(), "archive_corrupt", "{bad}");
        let gz_cut = read_in_pieces(&body[..body.len() - 3], 100).unwrap_err();
        assert_eq!(gz_cut.code(), "archive_corrupt", "{gz_cut}");
    }

    use std::io::Read;
}
