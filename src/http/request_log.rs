//! The one structured log line each request leaves (JSON, for Workers Logs
//! and `wrangler tail`): what was asked, by whom, how it ended, how long
//! it took, which cache layer answered and how much memory the isolate
//! has grown to. It holds no secret by construction: no header, query
//! string or body is ever put in it.

use serde::Serialize;

/// One request's log line.
#[derive(Debug, Clone, Serialize)]
pub struct RequestLog<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    /// The URL path, without its query.
    pub path: &'a str,
    pub status: u16,
    /// The authenticated user's id, if any.
    pub user: Option<i64>,
    /// The response's length, when known before it streams.
    pub bytes: Option<u64>,
    pub ms: f64,
    /// `edge`, `r2` or `built`, for git and ZIP responses.
    pub cache: Option<&'a str>,
    /// The isolate's WebAssembly memory when the response went (its
    /// high-water mark, since linear memory only grows): how close the
    /// isolate runs to the platform's 128 MB.
    pub wasm_memory: Option<u64>,
}

impl RequestLog<'_> {
    /// The line as JSON.
    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The cache layer a `Server-Timing` header names (`cache;desc=<layer>`).
pub fn cache_layer(server_timing: &str) -> Option<&str> {
    server_timing
        .split(',')
        .map(str::trim)
        .find_map(|m| m.strip_prefix("cache;desc="))
}

/// A request id from 8 random bytes, as 16 hex digits.
pub fn format_request_id(random: &[u8; 8]) -> String {
    crate::git::hex::encode(random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object_with_every_field() {
        let line = RequestLog {
            request_id: "00ff00ff00ff00ff",
            method: "POST",
            path: "/marketplace.git/git-upload-pack",
            status: 200,
            user: Some(7),
            bytes: None,
            ms: 12.5,
            cache: cache_layer("d1;count=1;dur=2.0, r2;count=0;dur=0.0, cache;desc=edge"),
            wasm_memory: Some(2 << 20),
        }
        .line();
        assert_eq!(
            line,
            r#"{"request_id":"00ff00ff00ff00ff","method":"POST","path":"/marketplace.git/git-upload-pack","status":200,"user":7,"bytes":null,"ms":12.5,"cache":"edge","wasm_memory":2097152}"#
        );
        assert!(!line.contains('\n'));
        assert_eq!(cache_layer("d1;count=1;dur=2.0"), None);
        assert_eq!(format_request_id(&[0xab; 8]), "abababababababab");
    }
}
