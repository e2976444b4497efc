//! `ObjectId`: a SHA-1 git object name.
//!
//! Invariant: an `ObjectId` is always exactly 20 bytes; its text form is 40
//! lowercase hex digits. Parsing accepts lowercase only, because that is what
//! git sends on the wire, and being strict keeps `have`/`want` matching exact.

use std::fmt;

use sha1::{Digest, Sha1};

use super::hex;

/// A git object name (SHA-1).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId([u8; 20]);

/// The text was not 40 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a 40-digit lowercase hex object id")]
pub struct BadObjectId;

impl ObjectId {
    /// The all-zero id git uses for "no object".
    pub const ZERO: ObjectId = ObjectId([0; 20]);

    /// Wraps 20 raw bytes.
    pub fn from_bytes(bytes: [u8; 20]) -> Self {
        ObjectId(bytes)
    }

    /// The raw 20 bytes, as stored in tree entries.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// Parses 40 lowercase hex digits.
    pub fn from_hex(hex: &[u8]) -> Result<Self, BadObjectId> {
        if hex.len() != 40 {
            return Err(BadObjectId);
        }
        let mut out = [0u8; 20];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Ok(ObjectId(out))
    }

    /// Hashes a loose-object header (`<kind> <len>\0`) followed by `body`.
    pub fn for_object(kind: &str, body: &[u8]) -> Self {
        let mut h = Sha1::new();
        h.update(kind.as_bytes());
        h.update(b" ");
        h.update(body.len().to_string().as_bytes());
        h.update([0u8]);
        h.update(body);
        ObjectId(h.finalize().into())
    }

    /// Writes the 40-digit hex form into `out`.
    pub fn write_hex(&self, out: &mut Vec<u8>) {
        hex::write(&self.0, out);
    }

    /// The 40-digit hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }
}

fn nibble(c: u8) -> Result<u8, BadObjectId> {
    hex::digit(c).ok_or(BadObjectId)
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.to_hex())
    }
}

impl std::str::FromStr for ObjectId {
    type Err = BadObjectId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObjectId::from_hex(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let hex = "0123456789abcdef0123456789abcdef01234567";
        let id: ObjectId = hex.parse().unwrap();
        assert_eq!(id.to_hex(), hex);
    }

    #[test]
    fn rejects_uppercase_short_and_non_hex() {
        assert!(ObjectId::from_hex(b"0123456789ABCDEF0123456789abcdef01234567").is_err());
        assert!(ObjectId::from_hex(b"0123").is_err());
        assert!(ObjectId::from_hex(b"g123456789abcdef0123456789abcdef01234567").is_err());
    }

    #[test]
    fn empty_blob_has_gits_well_known_id() {
        // Documented in git's own source as EMPTY_BLOB_SHA1.
        assert_eq!(
            ObjectId::for_object("blob", b"").to_hex(),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }
}
