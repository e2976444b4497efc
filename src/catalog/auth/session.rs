//! Web UI sessions, the pure part: the cookie's name, format and lifetime,
//! reading it back, and the proof a cookie-authenticated change must carry.
//!
//! Invariants: the cookie is always `HttpOnly; SameSite=Lax; Path=/` and
//! `Secure` unless the site is plain-HTTP loopback (local development);
//! whenever it is `Secure` it is named with the `__Host-` prefix, so a
//! sibling subdomain can neither plant nor shadow it (browsers accept such
//! a cookie only from this very host, `Secure`, with `Path=/` and no
//! `Domain`), and only that name is read there; a session id is 32 random
//! bytes as hex, and only its sha256 is stored.

/// The cookie that carries the session id, on plain-HTTP loopback.
pub const COOKIE_NAME: &str = "mpe_session";

/// The same cookie everywhere else: `__Host-` pins it to this host.
pub const SECURE_COOKIE_NAME: &str = "__Host-mpe_session";

/// The session cookie's name for a site at `url`.
pub fn cookie_name(url: &str) -> &'static str {
    if insecure_dev_origin(url) {
        COOKIE_NAME
    } else {
        SECURE_COOKIE_NAME
    }
}

/// How long a session lives without use; each use renews it.
pub const SESSION_TTL_SECONDS: i64 = 12 * 3600;

/// A session is renewed on use only when this much of its life has passed,
/// so most requests write nothing.
pub const RENEW_AFTER_SECONDS: i64 = 10 * 60;

/// The header the UI sends on every request; cross-site forms cannot send
/// it, and cross-origin scripts cannot either without a CORS preflight,
/// which this Worker never approves.
pub const UI_HEADER: &str = "X-Marketplace-Edge";

/// The session id (64 hex digits) from a `Cookie` header sent to
/// `request_url`, if present under that site's name and well formed.
pub fn session_from_cookie<'a>(header: &'a str, request_url: &str) -> Option<&'a str> {
    let wanted = cookie_name(request_url);
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether cookies for `url` may omit `Secure`: only plain HTTP on loopback.
pub fn insecure_dev_origin(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// The `Set-Cookie` value that opens a session (`id` = None clears it).
pub fn set_cookie(id: Option<&str>, request_url: &str) -> String {
    let name = cookie_name(request_url);
    let secure = if insecure_dev_origin(request_url) {
        ""
    } else {
        "; Secure"
    };
    match id {
        Some(id) => format!(
            "{name}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_TTL_SECONDS}{secure}"
        ),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}

/// The origin (`scheme://host[:port]`) of an absolute URL.
pub fn origin_of(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")? + 3;
    let end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    Some(&url[..end])
}

/// Why a cookie-authenticated change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiProofError {
    /// No `Origin`, or one that is not this site.
    CrossOrigin,
    /// The UI's custom header is missing.
    MissingHeader,
}

/// Checks that a state-changing request authenticated by cookie comes from
/// this site's UI: its `Origin` equals the request's own origin and it
/// carries `UI_HEADER`.
pub fn check_ui_proof(
    origin: Option<&str>,
    request_url: &str,
    ui_header: Option<&str>,
) -> Result<(), UiProofError> {
    let own = origin_of(request_url).ok_or(UiProofError::CrossOrigin)?;
    if origin.map(str::trim) != Some(own) {
        return Err(UiProofError::CrossOrigin);
    }
    if ui_header.is_none_or(|v| v.trim().is_empty()) {
        return Err(UiProofError::MissingHeader);
    }
    Ok(())
}

/// Whether a method changes state (everything but GET, HEAD and OPTIONS).
pub fn is_state_changing(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// A session id as stored: hex of 32 random bytes.
pub fn format_session_id(random: &[u8; 32]) -> String {
    crate::git::hex::encode(random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_session_cookie_only_when_well_formed() {
        let local = "http://127.0.0.1:8787/api/me";
        let id = "ab".repeat(32);
        assert_eq!(
            session_from_cookie(&format!("a=1; {COOKIE_NAME}={id}; b=2"), local),
            Some(id.as_str())
        );
        assert_eq!(
            session_from_cookie(&format!("{COOKIE_NAME}=xyz"), local),
            None
        );
        assert_eq!(session_from_cookie("other=1", local), None);
        assert_eq!(session_from_cookie("", local), None);
        let upper = "AB".repeat(32);
        assert_eq!(
            session_from_cookie(&format!("{COOKIE_NAME}={upper}"), local),
            Some(upper.as_str())
        );
    }

    #[test]
    fn a_secure_site_reads_and_sets_only_the_host_pinned_cookie() {
        let site = "https://m.example.com/api/me";
        let id = "cd".repeat(32);
        let planted = "ef".repeat(32);
        // A sibling subdomain can set `mpe_session` for the parent domain;
        // it is never read here, and the `__Host-` one wins whatever the
        // order.
        assert_eq!(
            session_from_cookie(&format!("{COOKIE_NAME}={planted}"), site),
            None
        );
        for header in [
            format!("{COOKIE_NAME}={planted}; {SECURE_COOKIE_NAME}={id}"),
            format!("{SECURE_COOKIE_NAME}={id}; {COOKIE_NAME}={planted}"),
        ] {
            assert_eq!(
                session_from_cookie(&header, site),
                Some(id.as_str()),
                "{header}"
            );
        }
        let set = set_cookie(Some(&id), site);
        assert!(
            set.starts_with(&format!("{SECURE_COOKIE_NAME}={id}; Path=/;")),
            "{set}"
        );
        assert!(
            set.ends_with("; Secure") && !set.contains("Domain"),
            "{set}"
        );
        assert!(set_cookie(None, site).starts_with(&format!("{SECURE_COOKIE_NAME}=;")));
        // Plain-HTTP loopback cannot hold a `__Host-` cookie (it needs
        // Secure), so local development keeps the plain name.
        assert!(set_cookie(Some(&id), "http://127.0.0.1:8787/").starts_with(COOKIE_NAME));
    }

    #[test]
    fn cookie_is_secure_except_on_plain_http_loopback() {
        let id = "0".repeat(64);
        let local = set_cookie(Some(&id), "http://127.0.0.1:8787/api/session");
        assert!(local.contains("HttpOnly") && local.contains("SameSite=Lax"));
        assert!(!local.contains("Secure"), "{local}");
        assert!(!set_cookie(Some(&id), "http://localhost/x").contains("Secure"));
        for url in [
            "https://127.0.0.1/api/session",
            "https://m.example.com/api/session",
            "http://m.example.com/api/session",
            "http://127.0.0.1.evil.com/",
        ] {
            assert!(set_cookie(Some(&id), url).ends_with("; Secure"), "{url}");
        }
        assert!(set_cookie(None, "https://m.example.com/").contains("Max-Age=0"));
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://m.example.com:8443/api/x?y=1"),
            Some("https://m.example.com:8443")
        );
        assert_eq!(origin_of("http://h"), Some("http://h"));
        assert_eq!(origin_of("nope"), None);
    }

    #[test]
    fn ui_proof_needs_same_origin_and_the_header() {
        let url = "https://m.example.com/api/me/optouts/a/b";
        let own = Some("https://m.example.com");
        assert_eq!(check_ui_proof(own, url, Some("1")), Ok(()));
        assert_eq!(
            check_ui_proof(Some("https://evil.example"), url, Some("1")),
            Err(UiProofError::CrossOrigin)
        );
        assert_eq!(
            check_ui_proof(None, url, Some("1")),
            Err(UiProofError::CrossOrigin)
        );
        assert_eq!(
            check_ui_proof(Some("https://m.example.com.evil"), url, Some("1")),
            Err(UiProofError::CrossOrigin)
        );
        assert_eq!(
            check_ui_proof(own, url, None),
            Err(UiProofError::MissingHeader)
        );
        assert!(is_state_changing("POST") && is_state_changing("DELETE"));
        assert!(!is_state_changing("GET") && !is_state_changing("HEAD"));
    }
}
