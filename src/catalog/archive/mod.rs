//! Reading uploaded archives (`.zip`, `.tar.gz`) into validated files, one
//! file at a time.
//!
//! Two readers, each holding one file (and, for a ZIP, one window of the
//! archive) rather than the archive: `tar_gz::TarGzReader` is fed the body
//! as it arrives; `zip_ranged::ZipReader` asks for the byte ranges it needs (the
//! directory at the end first), which the caller reads from wherever the
//! body was put. `read_archive` drives either over bytes in memory.
//!
//! Invariants: every file a reader yields is regular, UTF-8-named,
//! `RepoPath`-valid, distinct and within every limit, or the reader returns
//! an error; it never allocates more than the limits allow, however the
//! archive lies about its sizes (actual bytes are counted while inflating).

use std::collections::HashSet;
use std::io::Read;

use crate::git::path::{PathError, RepoPath};

pub mod tar_gz;
pub mod zip_ranged;

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
/// The archive stays under the platform's 100 MB request body limit.
pub const IMPORT_LIMITS: ArchiveLimits = ArchiveLimits {
    max_archive_bytes: 95 << 20,
    max_files: 20_000,
    max_total_bytes: 128 << 20,
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

/// Enforces the limits across an archive's files: names first, then bytes.
pub(crate) struct Collector {
    limits: ArchiveLimits,
    files: usize,
    seen: HashSet<String>,
    total: usize,
}

impl Collector {
    pub(crate) fn new(limits: ArchiveLimits) -> Self {
        Collector {
            limits,
            files: 0,
            seen: HashSet::new(),
            total: 0,
        }
    }

    /// Validates the name and reserves a slot before any content is read.
    pub(crate) fn admit(&mut self, name: &str) -> Result<RepoPath, ArchiveError> {
        let path = RepoPath::parse(name)?;
        if !self.seen.insert(name.to_string()) {
            return Err(ArchiveError::DuplicatePath(name.to_string()));
        }
        if self.files == self.limits.max_files {
            return Err(ArchiveError::TooManyFiles {
                limit: self.limits.max_files,
            });
        }
        self.files += 1;
        Ok(path)
    }

    /// Bytes the next file may still hold.
    fn room(&self) -> usize {
        self.limits
            .max_file_bytes
            .min(self.limits.max_total_bytes - self.total)
    }

    /// The error for a file of `size` bytes that does not fit the room.
    fn too_large(&self, path: &RepoPath, size: u64) -> ArchiveError {
        if size > self.limits.max_file_bytes as u64 {
            ArchiveError::FileTooLarge {
                path: path.to_string(),
                limit: self.limits.max_file_bytes,
            }
        } else {
            ArchiveError::TooManyBytes {
                limit: self.limits.max_total_bytes,
            }
        }
    }

    /// Accounts for a file whose size is known before its bytes arrive.
    pub(crate) fn reserve(&mut self, path: &RepoPath, size: u64) -> Result<(), ArchiveError> {
        if size > self.room() as u64 {
            return Err(self.too_large(path, size));
        }
        self.total += size as usize;
        Ok(())
    }

    /// Reads content, counting real bytes against the per-file and total
    /// limits. `declared` is the size the archive states: the buffer is
    /// sized to it (within the room left), so a file is held once at its
    /// size rather than in a buffer grown by doubling to up to twice that.
    pub(crate) fn read(
        &mut self,
        path: &RepoPath,
        reader: &mut impl Read,
        declared: u64,
    ) -> Result<Vec<u8>, ArchiveError> {
        let room = self.room();
        let mut content = Vec::with_capacity(declared.min(room as u64) as usize);
        reader
            .take(room as u64 + 1)
            .read_to_end(&mut content)
            .map_err(|e| ArchiveError::Corrupt(format!("`{path}`: {e}")))?;
        if content.len() > room {
            return Err(self.too_large(path, content.len() as u64));
        }
        self.total += content.len();
        Ok(content)
    }
}

/// Which reader an archive needs, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    Zip,
    TarGz,
}

impl ArchiveFormat {
    /// Detects the format by magic bytes (at least 4 are needed for a ZIP).
    pub fn detect(head: &[u8]) -> Result<ArchiveFormat, ArchiveError> {
        if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            Ok(ArchiveFormat::Zip)
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Ok(ArchiveFormat::TarGz)
        } else {
            Err(ArchiveError::UnknownFormat)
        }
    }
}

/// Reads a `.zip` or `.tar.gz` held in memory into files. Given the bytes
/// by value, it holds them once (a ZIP reader keeps the archive while it
/// reads; a copy would double what an upload costs the isolate).
pub fn read_archive(
    bytes: impl Into<Vec<u8>>,
    limits: ArchiveLimits,
) -> Result<Vec<ArchiveFile>, ArchiveError> {
    let bytes: Vec<u8> = bytes.into();
    if bytes.len() > limits.max_archive_bytes {
        return Err(ArchiveError::ArchiveTooLarge {
            limit: limits.max_archive_bytes,
        });
    }
    match ArchiveFormat::detect(&bytes)? {
        ArchiveFormat::Zip => {
            let mut zip = zip_ranged::ZipReader::new(bytes.len() as u64, limits)?;
            let mut files = Vec::new();
            let mut whole = Some(bytes);
            loop {
                match zip.next()? {
                    zip_ranged::ZipStep::File(f) => files.push(f),
                    // Everything is here: hand over the whole archive once.
                    zip_ranged::ZipStep::Need { .. } => match whole.take() {
                        Some(all) => zip.supply(0, all),
                        None => {
                            return Err(ArchiveError::Corrupt(
                                "the ZIP refers to bytes it does not have".into(),
                            ))
                        }
                    },
                    zip_ranged::ZipStep::Done => return Ok(files),
                }
            }
        }
        ArchiveFormat::TarGz => {
            let mut tar = tar_gz::TarGzReader::new(limits);
            let mut files = tar.push(&bytes)?;
            files.extend(tar.finish()?);
            Ok(files)
        }
    }
}
