//! Push webhooks that trigger a sync: GitHub signs the body with HMAC-SHA256
//! under the shared secret (`X-Hub-Signature-256: sha256=<hex>`); GitLab
//! sends the secret itself (`X-Gitlab-Token`). Pure.
//!
//! Invariant: both comparisons are constant-time; a missing or malformed
//! header is simply not a valid signature.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::catalog::auth::token::secrets_equal;

/// Whether `header` (`sha256=<64 hex>`) signs `body` under `secret`.
pub fn github_signature_valid(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(sig) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// Whether GitLab's `X-Gitlab-Token` is the secret.
pub fn gitlab_token_valid(secret: &str, header: &str) -> bool {
    secrets_equal(secret, header.trim())
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    // 32 bytes, in either case (GitHub sends lowercase).
    crate::git::hex::decode(s.to_ascii_lowercase().as_bytes()).filter(|b| b.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_documented_example_verifies() {
        // From GitHub's "Validating webhook deliveries" documentation.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(github_signature_valid(
            "It's a Secret to Everybody",
            b"Hello, World!",
            header
        ));
        assert!(!github_signature_valid(
            "It's a Secret to Everybody",
            b"Hello, World?",
            header
        ));
        assert!(!github_signature_valid("wrong", b"Hello, World!", header));
        assert!(!github_signature_valid(
            "It's a Secret to Everybody",
            b"Hello, World!",
            "sha1=00"
        ));
        assert!(!github_signature_valid("s", b"", "sha256=zz"));
    }

    #[test]
    fn gitlab_token_is_compared_whole() {
        assert!(gitlab_token_valid("s3cret", "s3cret"));
        assert!(!gitlab_token_valid("s3cret", "s3cre"));
        assert!(!gitlab_token_valid("s3cret", ""));
    }
}
