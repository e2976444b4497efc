//! What one pack may make the reader do, and how reading it can fail.

use crate::git::oid::ObjectId;

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
    /// Not a refusal: bytes `offset..offset + len` must be loaded first.
    #[error("pack bytes {offset}..+{len} are not loaded")]
    Need { offset: usize, len: usize },
}
