//! Personal access tokens: their format, their stored form and comparison.
//!
//! Invariants: only `token_hash` of a secret is ever stored; secrets are
//! compared in constant time (over fixed-length digests, so neither length
//! nor content leaks through timing).

use sha2::{Digest, Sha256};

use crate::git::hex;

/// Every PAT starts with this, so leaked tokens are easy to scan for.
pub const TOKEN_PREFIX: &str = "mpe_";

/// A new token's secret from 20 random bytes: `mpe_` + 40 hex digits.
pub fn format_token(random: &[u8; 20]) -> String {
    format!("{TOKEN_PREFIX}{}", hex::encode(random))
}

/// A token id (shown in listings, used to revoke) from 8 random bytes.
pub fn format_token_id(random: &[u8; 8]) -> String {
    hex::encode(random)
}

/// The stored form of a secret: lowercase hex sha256.
pub fn token_hash(secret: &str) -> String {
    hex::encode(&Sha256::digest(secret.as_bytes()))
}

/// Compares two secrets in constant time.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The non-secret start of a PAT shown in listings: `mpe_` and 6 hex
/// digits (24 of its 160 random bits).
pub fn token_prefix(secret: &str) -> String {
    secret.chars().take(TOKEN_PREFIX.len() + 6).collect()
}

/// Longest token lifetime that can be asked for, in days.
pub const MAX_TOKEN_DAYS: i64 = 3650;

/// The `ADMIN_TOKEN` that `.dev.vars` sets for local development.
pub const DEV_ADMIN_TOKEN: &str = "dev-admin-token";

/// Whether an `ADMIN_TOKEN` is fit only for local development: the
/// `.dev.vars` default, or shorter than 32 characters.
pub fn admin_token_is_weak(admin: &str) -> bool {
    admin == DEV_ADMIN_TOKEN || admin.chars().count() < 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_hash() {
        let t = format_token(&[0xab; 20]);
        assert_eq!(t.len(), 44);
        assert!(t.starts_with("mpe_abab"));
        // printf 'dev-admin-token' | sha256sum
        assert_eq!(
            token_hash("dev-admin-token"),
            "1734d503f6aa6a047c36d113cbad769f719c93784b469b771c4c3e7c63adbefd"
        );
        assert_eq!(
            format_token_id(&[1, 2, 3, 4, 5, 6, 7, 8]),
            "0102030405060708"
        );
    }

    #[test]
    fn constant_time_equality() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
        assert!(!secrets_equal("", "x"));
    }

    #[test]
    fn the_dev_default_and_short_admin_tokens_are_weak() {
        assert!(admin_token_is_weak(DEV_ADMIN_TOKEN));
        assert!(admin_token_is_weak(&"x".repeat(31)));
        assert!(!admin_token_is_weak(&"x".repeat(32)));
        assert!(!admin_token_is_weak(&format_token(&[7; 20])));
    }

    #[test]
    fn a_prefix_is_the_marker_and_six_hex_digits() {
        let t = format_token(&[0xab; 20]);
        assert_eq!(token_prefix(&t), "mpe_ababab");
        assert!(t.starts_with(&token_prefix(&t)));
    }
}
