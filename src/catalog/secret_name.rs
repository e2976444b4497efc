//! Names of the Worker secrets an upstream source may use (its token and
//! its webhook secret). A source names a secret; it never holds one.
//!
//! Invariant: a `SecretName` starts with `UPSTREAM_`, so a name that came
//! from a request can never reach `ADMIN_TOKEN`, `CF_API_TOKEN` or any
//! other secret of the Worker: the sync sends the secret to a URL the
//! admin chose, and the webhook check would be an oracle for it.

use std::fmt;

/// The prefix every secret a source names must carry.
pub const UPSTREAM_SECRET_PREFIX: &str = "UPSTREAM_";

/// Why a secret name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretNameError {
    #[error("`{0}` is not a Worker secret name (A-Z, 0-9 and _, at most 64); name the secret, do not paste it")]
    Malformed(String),
    #[error("a source may only name Worker secrets whose names start with `UPSTREAM_` (for example `UPSTREAM_ACME_TOKEN`); `{0}` is another secret of the Worker and is never sent anywhere")]
    NotAllowed(String),
}

impl SecretNameError {
    /// The machine-readable error code.
    pub fn code(&self) -> &'static str {
        match self {
            SecretNameError::Malformed(_) => "bad_secret_name",
            SecretNameError::NotAllowed(_) => "secret_not_allowed",
        }
    }
}

/// The name of a Worker secret a source may read: `UPSTREAM_…`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretName(String);

impl SecretName {
    /// Parses a name as a source may give it.
    pub fn parse(name: &str) -> Result<SecretName, SecretNameError> {
        let b = name.as_bytes();
        let well_formed = !b.is_empty()
            && b.len() <= 64
            && !b[0].is_ascii_digit()
            && b.iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
        if !well_formed {
            return Err(SecretNameError::Malformed(name.to_string()));
        }
        match name.strip_prefix(UPSTREAM_SECRET_PREFIX) {
            Some(rest) if !rest.is_empty() => Ok(SecretName(name.to_string())),
            _ => Err(SecretNameError::NotAllowed(name.to_string())),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretName({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_names_are_accepted() {
        for ok in ["UPSTREAM_ACME_TOKEN", "UPSTREAM_HOOK", "UPSTREAM_1"] {
            assert_eq!(SecretName::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn other_secrets_are_not_allowed() {
        for name in [
            "ADMIN_TOKEN",
            "CF_API_TOKEN",
            "UPSTREAM_",
            "UPSTREAMX",
            "MY_UPSTREAM_TOKEN",
        ] {
            let e = SecretName::parse(name).unwrap_err();
            assert_eq!(e.code(), "secret_not_allowed", "{name}");
        }
    }

    #[test]
    fn pasted_tokens_and_odd_names_are_malformed() {
        let long = format!("UPSTREAM_{}", "A".repeat(56));
        for name in ["", "ghp_pasted-token", "upstream_token", "1UPSTREAM", &long] {
            let e = SecretName::parse(name).unwrap_err();
            assert_eq!(e.code(), "bad_secret_name", "{name:?}");
        }
        let e = SecretName::parse("ghp_abc").unwrap_err();
        assert!(!e.to_string().is_empty());
    }
}
