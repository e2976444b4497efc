//! Cloudflare Access, the pure part: verifying the `Cf-Access-Jwt-Assertion`
//! JWT that Access puts on every request it lets through, against the team's
//! published keys (a JWKS), and reading the email it vouches for.
//!
//! Invariants: only RS256 is accepted (never `none`, never HMAC); the key
//! is chosen by `kid` from the JWKS and must be an RSA key of 2048 to 8192
//! bits; `aud` must contain the configured audience, `iss` must be the
//! team's URL, `exp` must lie in the future and `nbf` (if any) not more than
//! `CLOCK_SKEW_SECONDS` ahead. Nothing here trusts the email header Access
//! also sends: the email comes from the verified token only.

use rsa::{BoxedUint, Pkcs1v15Sign, PublicKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::catalog::auth::credentials::{base64_decode, Alphabet};

/// How far a token's `nbf` may lie ahead of our clock.
pub const CLOCK_SKEW_SECONDS: i64 = 60;

/// Largest token accepted, in bytes (Access tokens are about 1 KiB).
pub const MAX_TOKEN_BYTES: usize = 16 << 10;

/// What the Worker is configured to accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessConfig {
    /// The team domain, e.g. `myteam.cloudflareaccess.com`.
    pub team_domain: String,
    /// The Access application's audience tag.
    pub audience: String,
}

impl AccessConfig {
    /// A configuration from the two variables; `team_domain` may carry an
    /// `https://` prefix and a trailing slash.
    pub fn new(team_domain: &str, audience: &str) -> AccessConfig {
        let domain = team_domain
            .trim()
            .trim_start_matches("https://")
            .trim_end_matches('/');
        AccessConfig {
            team_domain: domain.to_string(),
            audience: audience.trim().to_string(),
        }
    }

    /// The issuer every token must name.
    pub fn issuer(&self) -> String {
        format!("https://{}", self.team_domain)
    }

    /// Where the team publishes its signing keys.
    pub fn certs_url(&self) -> String {
        format!("https://{}/cdn-cgi/access/certs", self.team_domain)
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("the Access token is not a well-formed JWT")]
    Malformed,
    #[error("the Access token uses algorithm `{0}`; only RS256 is accepted")]
    UnsupportedAlgorithm(String),
    #[error("the Access token was signed by an unknown key")]
    UnknownKey,
    #[error("the Access token's signature is not valid")]
    BadSignature,
    #[error("the Access token is for another application (audience)")]
    WrongAudience,
    #[error("the Access token was issued by another team")]
    WrongIssuer,
    #[error("the Access token has expired")]
    Expired,
    #[error("the Access token is not valid yet")]
    NotYetValid,
    #[error("the Access token carries no email")]
    NoEmail,
    #[error("the Access signing keys are malformed: {0}")]
    BadKeys(String),
}

#[derive(Debug, Clone, Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    n: Option<String>,
    e: Option<String>,
}

/// A team's signing keys, parsed and ready to verify with.
#[derive(Debug, Clone)]
pub struct Jwks {
    keys: Vec<(Option<String>, PublicKey)>,
}

impl Jwks {
    /// Parses a JWKS document (`{"keys": [...]}`), keeping its RSA keys.
    pub fn parse(json: &[u8]) -> Result<Jwks, AccessError> {
        #[derive(Deserialize)]
        struct Doc {
            keys: Vec<Jwk>,
        }
        let doc: Doc =
            serde_json::from_slice(json).map_err(|e| AccessError::BadKeys(e.to_string()))?;
        let mut keys = Vec::new();
        for k in doc.keys.into_iter().filter(|k| k.kty == "RSA") {
            let (Some(n), Some(e)) = (&k.n, &k.e) else {
                return Err(AccessError::BadKeys("an RSA key lacks n or e".into()));
            };
            let number = |s: &str| {
                base64_decode(s, Alphabet::UrlSafe)
                    .map(|b| BoxedUint::from_be_slice_vartime(&b))
                    .ok_or_else(|| AccessError::BadKeys("a key number is not base64url".into()))
            };
            let key = PublicKey::new(number(n)?, number(e)?)
                .map_err(|e| AccessError::BadKeys(e.to_string()))?;
            keys.push((k.kid.clone(), key));
        }
        if keys.is_empty() {
            return Err(AccessError::BadKeys("no RSA key".into()));
        }
        Ok(Jwks { keys })
    }

    /// Whether a key with this id is present.
    pub fn has_key(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _)| k.as_deref() == Some(kid))
    }

    fn key(&self, kid: Option<&str>) -> Option<&PublicKey> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(k, _)| k.as_deref() == Some(kid))
                .map(|(_, key)| key),
            // Without a kid, only an unambiguous single key will do.
            None if self.keys.len() == 1 => Some(&self.keys[0].1),
            None => None,
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    aud: Option<Audience>,
    iss: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    email: Option<String>,
}

fn part<T: serde::de::DeserializeOwned>(b64: &str) -> Result<T, AccessError> {
    let bytes = base64_decode(b64, Alphabet::UrlSafe).ok_or(AccessError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| AccessError::Malformed)
}

/// The `kid` a token names, read without verifying anything (to decide
/// whether the cached keys must be refreshed).
pub fn token_key_id(token: &str) -> Result<Option<String>, AccessError> {
    let header = token.split('.').next().ok_or(AccessError::Malformed)?;
    Ok(part::<Header>(header)?.kid)
}

/// Verifies `token` at time `now` (Unix seconds); the email it vouches for.
pub fn verify(
    token: &str,
    keys: &Jwks,
    config: &AccessConfig,
    now: i64,
) -> Result<String, AccessError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AccessError::Malformed);
    }
    let mut parts = token.trim().split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AccessError::Malformed);
    };
    let header: Header = part(h)?;
    if header.alg != "RS256" {
        return Err(AccessError::UnsupportedAlgorithm(header.alg));
    }
    let key = keys
        .key(header.kid.as_deref())
        .ok_or(AccessError::UnknownKey)?;
    let signature = base64_decode(s, Alphabet::UrlSafe).ok_or(AccessError::Malformed)?;
    let signed = &token.trim()[..h.len() + 1 + c.len()];
    key.verify(
        Pkcs1v15Sign::new::<Sha256>(),
        &Sha256::digest(signed.as_bytes()),
        &signature,
    )
    .map_err(|_| AccessError::BadSignature)?;
    // Claims are read only once the signature holds.
    let claims: Claims = part(c)?;
    let audience_ok = match &claims.aud {
        Some(Audience::One(a)) => *a == config.audience,
        Some(Audience::Many(list)) => list.contains(&config.audience),
        None => false,
    };
    if !audience_ok {
        return Err(AccessError::WrongAudience);
    }
    if claims.iss.as_deref() != Some(config.issuer().as_str()) {
        return Err(AccessError::WrongIssuer);
    }
    match claims.exp {
        Some(exp) if exp > now => {}
        _ => return Err(AccessError::Expired),
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECONDS) {
        return Err(AccessError::NotYetValid);
    }
    claims
        .email
        .filter(|e| e.contains('@'))
        .ok_or(AccessError::NoEmail)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A 2048-bit key pair made once with Node's crypto (generateKeyPairSync,
    // exported as JWK), and tokens signed with it by `crypto.sign("sha256")`:
    // see tests/fixtures/access/make.mjs, which wrote this file's fixtures.
    const FIXTURES: &str = include_str!("../../../tests/fixtures/access/fixtures.json");

    fn fixtures() -> serde_json::Value {
        serde_json::from_str(FIXTURES).unwrap()
    }

    fn token(name: &str) -> String {
        fixtures()["tokens"][name].as_str().unwrap().to_string()
    }

    fn keys(name: &str) -> Jwks {
        Jwks::parse(fixtures()[name].to_string().as_bytes()).unwrap()
    }

    fn config() -> AccessConfig {
        AccessConfig::new("https://team.example.com/", "test-aud")
    }

    /// Every fixture token is valid between these times (see make.mjs).
    const NOW: i64 = 2_000_000_000;

    #[test]
    fn a_valid_token_gives_its_email() {
        assert_eq!(
            verify(&token("valid"), &keys("jwks"), &config(), NOW),
            Ok("ana@example.com".into())
        );
        assert_eq!(
            verify(&token("valid_single_aud"), &keys("jwks"), &config(), NOW),
            Ok("ana@example.com".into())
        );
        assert_eq!(
            token_key_id(&token("valid")).unwrap().as_deref(),
            Some("test-key")
        );
    }

    #[test]
    fn refusals() {
        let (k, c) = (keys("jwks"), config());
        let cases = [
            ("wrong_audience", AccessError::WrongAudience),
            ("wrong_issuer", AccessError::WrongIssuer),
            ("expired", AccessError::Expired),
            ("not_yet_valid", AccessError::NotYetValid),
            ("no_email", AccessError::NoEmail),
            ("other_key", AccessError::BadSignature),
            ("unknown_kid", AccessError::UnknownKey),
            ("hs256", AccessError::UnsupportedAlgorithm("HS256".into())),
            ("alg_none", AccessError::UnsupportedAlgorithm("none".into())),
        ];
        for (name, want) in cases {
            assert_eq!(verify(&token(name), &k, &c, NOW), Err(want), "{name}");
        }
        // A changed claim breaks the signature.
        let valid = token("valid");
        let mut parts: Vec<&str> = valid.split('.').collect();
        let forged = token("forged_claims_part");
        parts[1] = &forged;
        assert_eq!(
            verify(&parts.join("."), &k, &c, NOW),
            Err(AccessError::BadSignature)
        );
        // The same token later is expired.
        assert_eq!(
            verify(&valid, &k, &c, 4_000_000_000),
            Err(AccessError::Expired)
        );
        for junk in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.!!.!!",
            &"x".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert_eq!(
                verify(junk, &k, &c, NOW),
                Err(AccessError::Malformed),
                "{junk:.20}"
            );
        }
    }

    #[test]
    fn jwks_parsing() {
        assert!(keys("jwks").has_key("test-key"));
        assert!(!keys("jwks").has_key("nope"));
        assert!(matches!(
            Jwks::parse(b"{\"keys\":[]}"),
            Err(AccessError::BadKeys(_))
        ));
        assert!(matches!(Jwks::parse(b"nope"), Err(AccessError::BadKeys(_))));
        assert_eq!(
            config().certs_url(),
            "https://team.example.com/cdn-cgi/access/certs"
        );
        assert_eq!(config().issuer(), "https://team.example.com");
    }
}
