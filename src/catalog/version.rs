//! Content versions: the version a served plugin carries, which moves
//! exactly when its files move.
//!
//! Claude Code decides whether an installed plugin is out of date by
//! comparing version strings (`plugin.json`'s, else the marketplace
//! entry's), so a fix shipped under an unchanged version would never reach
//! a member. Every served plugin's version is therefore the author's
//! version with the digest of its upstream files as semver build metadata:
//! `<author>+<12 hex>` (`<author>.<12 hex>` when the author's version has
//! build metadata already; `0.0.0+<12 hex>` without one).
//!
//! Where the plugin's `plugin.json` has a string `version`, the served
//! `plugin.json` carries the content version in that one field; every
//! other byte of the file is the upstream's (`with_version`).
//!
//! Invariants: `content_version` is a pure function of the author's
//! version and the digest; `with_version` changes only the top-level
//! `version` strings' values, and gives valid JSON that parses to the same
//! object but for them.

/// How many hex digits of the files digest a version carries.
pub const VERSION_DIGEST_HEX: usize = 12;

/// The served version for `author`'s version of files with `digest`.
pub fn content_version(author: Option<&str>, digest: &str) -> String {
    let hex = &digest[..VERSION_DIGEST_HEX.min(digest.len())];
    match author.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) if a.contains('+') => format!("{a}.{hex}"),
        Some(a) => format!("{a}+{hex}"),
        None => format!("0.0.0+{hex}"),
    }
}

/// A served version split into the author's part and the content digest
/// part (`None` for a version this module did not make, e.g. an external
/// plugin's).
pub fn split_version(served: &str) -> (&str, Option<&str>) {
    let n = VERSION_DIGEST_HEX;
    if served.len() > n + 1 {
        let (head, hex) = served.split_at(served.len() - n);
        let is_hex = hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if let Some(author) = head
            .strip_suffix('+')
            .or_else(|| head.strip_suffix('.').filter(|a| a.contains('+')))
        {
            if is_hex {
                let author = if author == "0.0.0" && head.ends_with('+') {
                    ""
                } else {
                    author
                };
                return (author, Some(hex));
            }
        }
    }
    (served, None)
}

/// The API's fields for a served version: `version` itself, and apart,
/// `author_version` and `content_digest` (both `null` when there is no
/// version; `content_digest` also when it is not a content version).
pub fn version_fields(served: Option<&str>) -> serde_json::Map<String, serde_json::Value> {
    let (author, digest) = match served.map(split_version) {
        Some((a, d)) => (Some(a), d),
        None => (None, None),
    };
    let mut m = serde_json::Map::new();
    m.insert("version".into(), served.into());
    m.insert("author_version".into(), author.into());
    m.insert("content_digest".into(), digest.into());
    m
}

/// `plugin_json` with every top-level `"version"` string set to `version`,
/// every other byte kept; `None` when it has no top-level string version
/// (or is not a JSON object).
pub fn with_version(plugin_json: &[u8], version: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(plugin_json).ok()?;
    let spans = top_level_version_spans(text)?;
    if spans.is_empty() {
        return None;
    }
    let replacement = serde_json::to_string(version).ok()?;
    let mut out = String::with_capacity(text.len() + replacement.len());
    let mut at = 0;
    for (start, end) in spans {
        out.push_str(&text[at..start]);
        out.push_str(&replacement);
        at = end;
    }
    out.push_str(&text[at..]);
    Some(out.into_bytes())
}

/// The byte spans of the values of the top-level `version` keys whose
/// values are strings; `None` if `text` is not a JSON object.
fn top_level_version_spans(text: &str) -> Option<Vec<(usize, usize)>> {
    // Validate first: the scanner below trusts the JSON to be well formed.
    let parsed: serde_json::Value = serde_json::from_str(text).ok()?;
    parsed.as_object()?;
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    // At depth 1, a string followed by `:` is a key; remember the last one.
    let mut key: Option<String> = None;
    let mut expect_key = false;
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => {
                depth += 1;
                expect_key = b[i] == b'{' && depth == 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b',' => {
                expect_key = depth == 1;
                i += 1;
            }
            b'"' => {
                let end = string_end(b, i)?;
                if depth == 1 {
                    let raw = &text[i..end];
                    if expect_key {
                        key = serde_json::from_str::<String>(raw).ok();
                        expect_key = false;
                    } else if key.as_deref() == Some("version") {
                        spans.push((i, end));
                    }
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    Some(spans)
}

/// The index just past the string that starts at `b[start]` (a quote).
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn the_version_carries_the_digest_as_build_metadata() {
        assert_eq!(content_version(Some("1.0.0"), D), "1.0.0+0123456789ab");
        assert_eq!(content_version(None, D), "0.0.0+0123456789ab");
        assert_eq!(content_version(Some("  "), D), "0.0.0+0123456789ab");
        // Build metadata already there: one more dot-separated identifier.
        assert_eq!(
            content_version(Some("2.1.0+build.7"), D),
            "2.1.0+build.7.0123456789ab"
        );
        // Another digest, another version; the same, the same.
        let other = "fedcba9876543210fedcba9876543210";
        assert_ne!(
            content_version(Some("1.0.0"), D),
            content_version(Some("1.0.0"), other)
        );
        assert_eq!(
            content_version(Some("1.0.0"), D),
            content_version(Some("1.0.0"), D)
        );
    }

    #[test]
    fn a_served_version_splits_into_author_and_digest() {
        assert_eq!(
            split_version("1.0.0+0123456789ab"),
            ("1.0.0", Some("0123456789ab"))
        );
        assert_eq!(
            split_version("0.0.0+0123456789ab"),
            ("", Some("0123456789ab"))
        );
        assert_eq!(
            split_version("2.1.0+build.7.0123456789ab"),
            ("2.1.0+build.7", Some("0123456789ab"))
        );
        assert_eq!(split_version("1.2.3"), ("1.2.3", None));
        assert_eq!(
            split_version("1.2.3.0123456789ab"),
            ("1.2.3.0123456789ab", None)
        );
        assert_eq!(split_version("1+0123456789AB"), ("1+0123456789AB", None));
    }

    #[test]
    fn the_api_shows_author_version_and_digest_apart() {
        let f = version_fields(Some("1.0.0+0123456789ab"));
        assert_eq!(f["author_version"], "1.0.0");
        assert_eq!(f["content_digest"], "0123456789ab");
        assert_eq!(f["version"], "1.0.0+0123456789ab");
        let none = version_fields(None);
        assert!(none["version"].is_null() && none["author_version"].is_null());
        assert!(version_fields(Some("3"))["content_digest"].is_null());
    }

    #[test]
    fn only_the_version_value_changes_in_plugin_json() {
        let upstream = b"{\n  \"name\": \"lint\",\r\n\t\"version\" :  \"1.0.0\", \"x\": {\"version\": \"9\"},\n  \"tags\": [\"version\", \"a\\\"b\"]\n}\n";
        let served = with_version(upstream, "1.0.0+0123456789ab").unwrap();
        assert_eq!(
            String::from_utf8(served).unwrap(),
            "{\n  \"name\": \"lint\",\r\n\t\"version\" :  \"1.0.0+0123456789ab\", \"x\": {\"version\": \"9\"},\n  \"tags\": [\"version\", \"a\\\"b\"]\n}\n"
        );
    }

    #[test]
    fn an_escaped_key_and_a_repeated_key_are_both_found() {
        let upstream = br#"{"vers\u0069on":"1","name":"a","version":"2"}"#;
        let served = with_version(upstream, "3").unwrap();
        assert_eq!(served, br#"{"vers\u0069on":"3","name":"a","version":"3"}"#);
    }

    #[test]
    fn no_string_version_means_no_rewrite() {
        assert_eq!(with_version(br#"{"name":"a"}"#, "1"), None);
        assert_eq!(with_version(br#"{"version":1}"#, "1"), None);
        assert_eq!(with_version(br#"{"a":{"version":"1"}}"#, "1"), None);
        assert_eq!(with_version(br#"["version","1"]"#, "1"), None);
        assert_eq!(with_version(b"{\"version\":\"1\"", "1"), None);
        assert_eq!(with_version(&[0xff, 0xfe], "1"), None);
    }

    #[test]
    fn the_rewritten_file_parses_to_the_same_object_but_the_version() {
        let upstream = br#"{"name":"a","version":"1.0.0","hooks":{"x":[1,2,{"version":"k"}]},"description":"v\"e"}"#;
        let served = with_version(upstream, "1.0.0+abc").unwrap();
        let mut before: serde_json::Value = serde_json::from_slice(upstream).unwrap();
        let after: serde_json::Value = serde_json::from_slice(&served).unwrap();
        before["version"] = "1.0.0+abc".into();
        assert_eq!(before, after);
    }
}
