//! Reading credentials from an `Authorization` header.
//!
//! git sends HTTP Basic with the PAT as password (the username is ignored);
//! API clients send `Bearer <token>`. Invariant: parsing never panics and
//! never returns an empty secret.

/// A secret presented by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic base64(user:password)`; holds the password.
    Basic(String),
}

impl Credential {
    /// The presented secret.
    pub fn secret(&self) -> &str {
        match self {
            Credential::Bearer(s) | Credential::Basic(s) => s,
        }
    }
}

/// Parses an `Authorization` header value.
pub fn parse_authorization(header: &str) -> Option<Credential> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return (!rest.is_empty()).then(|| Credential::Bearer(rest.to_string()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(base64_decode(rest, Alphabet::Standard)?).ok()?;
        let (_, password) = decoded.split_once(':')?;
        return (!password.is_empty()).then(|| Credential::Basic(password.to_string()));
    }
    None
}

/// The two base64 alphabets: standard (`+/`, HTTP Basic) and URL-safe
/// (`-_`, JWTs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    Standard,
    UrlSafe,
}

/// Decodes base64 in `alphabet`, with optional padding; `None` on any
/// character outside it.
pub fn base64_decode(s: &str, alphabet: Alphabet) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match (c, alphabet) {
            (b'A'..=b'Z', _) => c - b'A',
            (b'a'..=b'z', _) => c - b'a' + 26,
            (b'0'..=b'9', _) => c - b'0' + 52,
            (b'+', Alphabet::Standard) | (b'-', Alphabet::UrlSafe) => 62,
            (b'/', Alphabet::Standard) | (b'_', Alphabet::UrlSafe) => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Encodes `bytes` as padded standard base64 (for HTTP Basic).
pub fn base64_encode(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `Authorization` value for HTTP Basic: `user:password` as given, or
/// a bare token as `x-access-token:<token>` (what GitHub and GitLab accept).
pub fn basic_authorization(secret: &str) -> String {
    let pair = if secret.contains(':') {
        secret.to_string()
    } else {
        format!("x-access-token:{secret}")
    };
    format!("Basic {}", base64_encode(pair.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_base64_tool() {
        // printf 'x:mpe_secret' | base64  ->  eDptcGVfc2VjcmV0
        assert_eq!(base64_encode(b"x:mpe_secret"), "eDptcGVfc2VjcmV0");
        // printf 'ab' | base64 -> YWI= ; printf 'a' | base64 -> YQ==
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_encode(b"a"), "YQ==");
        assert_eq!(base64_encode(b""), "");
        for n in 0..40u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(
                base64_decode(&base64_encode(&data), Alphabet::Standard),
                Some(data)
            );
        }
        assert_eq!(
            basic_authorization("tok"),
            format!("Basic {}", base64_encode(b"x-access-token:tok"))
        );
    }

    #[test]
    fn basic_and_bearer() {
        // printf 'x:mpe_secret' | base64  ->  eDptcGVfc2VjcmV0
        assert_eq!(
            parse_authorization("Basic eDptcGVfc2VjcmV0"),
            Some(Credential::Basic("mpe_secret".into()))
        );
        assert_eq!(
            parse_authorization("Bearer abc"),
            Some(Credential::Bearer("abc".into()))
        );
        assert_eq!(
            parse_authorization("bearer  abc "),
            Some(Credential::Bearer("abc".into()))
        );
        // printf 'user:' | base64 -> dXNlcjo=
        assert_eq!(
            parse_authorization("Basic dXNlcjo="),
            None,
            "empty password"
        );
        assert_eq!(parse_authorization("Basic !!!"), None);
        assert_eq!(parse_authorization("Digest x"), None);
        assert_eq!(parse_authorization("Bearer"), None);
        // URL-safe base64 is a different alphabet.
        assert_eq!(
            base64_decode("-_8", Alphabet::UrlSafe),
            Some(vec![0xfb, 0xff])
        );
        assert_eq!(base64_decode("-_8", Alphabet::Standard), None);
        assert_eq!(
            base64_decode("+/8=", Alphabet::Standard),
            Some(vec![0xfb, 0xff])
        );
        assert_eq!(parse_authorization(""), None);
    }
}
