//! Reading uploaded archives (`.zip`, `.tar.gz`) into validated files.
//!
//! Invariants: `read_archive` either returns files that are all regular,
//! UTF-8-named, `RepoPath`-valid, distinct and within every limit, or an
//! error; it never allocates more than the limits allow, however the archive
//! lies about its sizes (actual bytes are counted while inflating).

use std::collections::HashSet;
use std::io::{Cursor, Read};

use flate2::read::GzDecoder;

use crate::git::path::{PathError, RepoPath};

/// Bounds on what one archive may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// The archive itself, compressed.
    pub max_archive_bytes: usize,
    /// Regular files (directories do not count).
    pub max_files: usize,
    /// All files, uncompressed.
    pub max_total_bytes: usize,
    /// One file, uncompressed.
    pub max_file_bytes: usize,
    /// Largest uncompressed:compressed ratio for a zip entry over 1 MiB.
    pub max_ratio: u64,
}

/// Limits for curated marketplace imports (stated in README).
pub const IMPORT_LIMITS: ArchiveLimits = ArchiveLimits {
    max_archive_bytes: 25 << 20,
    max_files: 5_000,
    max_total_bytes: 50 << 20,
    max_file_bytes: 10 << 20,
    max_ratio: 200,
};

/// One file read from an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    pub path: RepoPath,
    pub exec: bool,
    pub content: Vec<u8>,
}

/// Why an archive was refused. `code()` is the API's machine code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive is larger than {limit} bytes")]
    ArchiveTooLarge { limit: usize },
    #[error("body is neither a .zip nor a .tar.gz archive")]
    UnknownFormat,
    #[error("archive is corrupt: {0}")]
    Corrupt(String),
    #[error("archive holds more than {limit} files")]
    TooManyFiles { limit: usize },
    #[error("archive's files total more than {limit} bytes uncompressed")]
    TooManyBytes { limit: usize },
    #[error("`{path}` is larger than {limit} bytes uncompressed")]
    FileTooLarge { path: String, limit: usize },
    #[error("`{0}` inflates far beyond its compressed size (compression bomb)")]
    CompressionBomb(String),
    #[error("`{0}` is a symbolic link; links are not accepted")]
    Symlink(String),
    #[error("`{0}` is not a regular file or directory")]
    SpecialFile(String),
    #[error("`{0}` is encrypted")]
    Encrypted(String),
    #[error("`{0}` uses a compression method other than stored or deflate")]
    UnsupportedCompression(String),
    #[error("an entry's name is not valid UTF-8")]
    NonUtf8Name,
    #[error("{0}")]
    BadPath(#[from] PathError),
    #[error("`{0}` appears twice in the archive")]
    DuplicatePath(String),
}

impl ArchiveError {
    /// The machine-readable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ArchiveError::ArchiveTooLarge { .. } => "archive_too_large",
            ArchiveError::UnknownFormat => "archive_format",
            ArchiveError::Corrupt(_) => "archive_corrupt",
            ArchiveError::TooManyFiles { .. } => "too_many_files",
            ArchiveError::TooManyBytes { .. } => "too_many_bytes",
            ArchiveError::FileTooLarge { .. } => "file_too_large",
            ArchiveError::CompressionBomb(_) => "compression_bomb",
            ArchiveError::Symlink(_) => "symlink",
            ArchiveError::SpecialFile(_) => "special_file",
            ArchiveError::Encrypted(_) => "encrypted_entry",
            ArchiveError::UnsupportedCompression(_) => "unsupported_compression",
            ArchiveError::NonUtf8Name => "non_utf8_name",
            ArchiveError::BadPath(_) => "bad_path",
            ArchiveError::DuplicatePath(_) => "duplicate_path",
        }
    }
}

/// Collects files while enforcing the limits.
struct Collector {
    limits: ArchiveLimits,
    files: Vec<ArchiveFile>,
    seen: HashSet<String>,
    total: usize,
}

impl Collector {
    fn new(limits: ArchiveLimits) -> Self {
        Collector {
            limits,
            files: Vec::new(),
            seen: HashSet::new(),
            total: 0,
        }
    }

    /// Validates the name and reserves a slot before any content is read.
    fn admit(&mut self, name: &str) -> Result<RepoPath, ArchiveError> {
        let path = RepoPath::parse(name)?;
        if !self.seen.insert(name.to_string()) {
            return Err(ArchiveError::DuplicatePath(name.to_string()));
        }
        if self.files.len() == self.limits.max_files {
            return Err(ArchiveError::TooManyFiles {
                limit: self.limits.max_files,
            });
        }
        Ok(path)
    }

    /// Reads content, counting real bytes against the per-file and total limits.
    fn read(&mut self, path: &RepoPath, reader: &mut impl Read) -> Result<Vec<u8>, ArchiveError> {
        let room = self
            .limits
            .max_file_bytes
            .min(self.limits.max_total_bytes - self.total);
        let mut content = Vec::new();
        reader
            .take(room as u64 + 1)
            .read_to_end(&mut content)
            .map_err(|e| ArchiveError::Corrupt(format!("`{path}`: {e}")))?;
        if content.len() > room {
            return Err(if content.len() > self.limits.max_file_bytes {
                ArchiveError::FileTooLarge {
                    path: path.to_string(),
                    limit: self.limits.max_file_bytes,
                }
            } else {
                ArchiveError::TooManyBytes {
                    limit: self.limits.max_total_bytes,
                }
            });
        }
        self.total += content.len();
        Ok(content)
    }
}

/// Reads a `.zip` or `.tar.gz` (detected by magic bytes) into files.
pub fn read_archive(bytes: &[u8], limits: ArchiveLimits) -> Result<Vec<ArchiveFile>, ArchiveError> {
    if bytes.len() > limits.max_archive_bytes {
        return Err(ArchiveError::ArchiveTooLarge {
            limit: limits.max_archive_bytes,
        });
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        read_zip(bytes, limits)
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        read_tar_gz(bytes, limits)
    } else {
        Err(ArchiveError::UnknownFormat)
    }
}

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;

fn read_zip(bytes: &[u8], limits: ArchiveLimits) -> Result<Vec<ArchiveFile>, ArchiveError> {
    let corrupt = |e: zip::result::ZipError| ArchiveError::Corrupt(e.to_string());
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(corrupt)?;
    let mut c = Collector::new(limits);
    for i in 0..zip.len() {
        // Inspect the entry without decrypting or inflating it first.
        let (name, is_dir) = {
            let raw = zip.by_index_raw(i).map_err(corrupt)?;
            let name = std::str::from_utf8(raw.name_raw())
                .map_err(|_| ArchiveError::NonUtf8Name)?
                .to_string();
            if raw.encrypted() {
                return Err(ArchiveError::Encrypted(name));
            }
            if raw.is_symlink() {
                return Err(ArchiveError::Symlink(name));
            }
            let kind = raw.unix_mode().map(|m| m & S_IFMT).unwrap_or(0);
            if kind != 0 && kind != S_IFREG && kind != S_IFDIR {
                return Err(ArchiveError::SpecialFile(name));
            }
            if !matches!(
                raw.compression(),
                zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated
            ) {
                return Err(ArchiveError::UnsupportedCompression(name));
            }
            let declared = raw.size();
            if declared > (1 << 20) && declared / raw.compressed_size().max(1) > limits.max_ratio {
                return Err(ArchiveError::CompressionBomb(name));
            }
            (name, raw.is_dir() || kind == S_IFDIR)
        };
        if is_dir {
            RepoPath::parse(name.trim_end_matches('/'))?;
            continue;
        }
        let path = c.admit(&name)?;
        let mut entry = zip.by_index(i).map_err(corrupt)?;
        let exec = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let content = c.read(&path, &mut entry)?;
        c.files.push(ArchiveFile {
            path,
            exec,
            content,
        });
    }
    Ok(c.files)
}

fn read_tar_gz(bytes: &[u8], limits: ArchiveLimits) -> Result<Vec<ArchiveFile>, ArchiveError> {
    // Bound the inflated stream: headers and padding add at most 1 KiB per
    // file on top of the content limit, so anything beyond is a bomb.
    let cap = limits.max_total_bytes as u64 + (limits.max_files as u64 + 16) * 1024 + 4096;
    let inflated = GzDecoder::new(bytes).take(cap);
    let mut tar = tar::Archive::new(inflated);
    let mut c = Collector::new(limits);
    let entries = tar
        .entries()
        .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        let raw_path = entry.path_bytes().into_owned();
        let name = std::str::from_utf8(&raw_path)
            .map_err(|_| ArchiveError::NonUtf8Name)?
            .to_string();
        let name = name.strip_prefix("./").unwrap_or(&name).to_string();
        use tar::EntryType as T;
        match entry.header().entry_type() {
            T::Directory => {
                if !name.is_empty() && name != "." {
                    RepoPath::parse(name.trim_end_matches('/'))?;
                }
            }
            T::Regular | T::Continuous => {
                let path = c.admit(&name)?;
                let exec = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
                let content = c.read(&path, &mut entry)?;
                c.files.push(ArchiveFile {
                    path,
                    exec,
                    content,
                });
            }
            T::Symlink | T::Link => return Err(ArchiveError::Symlink(name)),
            // pax and GNU long-name records are consumed by the tar crate.
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {}
            _ => return Err(ArchiveError::SpecialFile(name)),
        }
    }
    Ok(c.files)
}
