//! The content ETag of a served view.
//!
//! Invariant: two views have the same ETag exactly when they would produce
//! the same tree (up to SHA-256 collisions). It hashes a canonical JSON
//! (object keys sorted, no whitespace) of the marketplace name, whether it
//! asks Claude Code to remove delisted plugins, and, per served plugin in
//! order, its directory, served name, past names, version, upstream entry
//! and the digest of its files (`served::files_digest`, computed once at
//! import).
//! DESIGN.md's formula lists every file; the per-plugin digest stands for
//! that list so the ETag comes from plugin rows alone (format 2). The entry
//! and the name are included because they also change the served
//! `marketplace.json`, and a cached pack must never outlive its tree.

use std::fmt;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Version of the canonical form; bump it when the tree layout changes.
/// 3: served names, past names and the removal flag (issue 19).
pub const ETAG_FORMAT: u32 = 3;

/// A view's content ETag: 16 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Etag(String);

impl Etag {
    /// Parses 16 lowercase hex digits (e.g. from `If-None-Match` or R2 keys).
    pub fn parse(s: &str) -> Option<Etag> {
        (s.len() == 16
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Etag(s.to_string()))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Etag({})", self.0)
    }
}

/// One served plugin as the ETag sees it.
pub struct EtagPlugin<'a> {
    pub dir: &'a str,
    /// Its served name and the names it was renamed from.
    pub name: &'a str,
    pub past_names: &'a [String],
    pub version: Option<&'a str>,
    pub entry: &'a Value,
    /// The digest of its files; `None` for a catalog-only plugin.
    pub digest: Option<&'a str>,
}

/// Computes the ETag over the canonical JSON.
pub fn compute_etag(
    marketplace_name: &str,
    force_remove_deleted: bool,
    plugins: &[EtagPlugin<'_>],
) -> Etag {
    let plugins: Vec<Value> = plugins
        .iter()
        .map(|p| json!([p.dir, p.name, p.past_names, p.version, p.entry, p.digest]))
        .collect();
    let canonical = json!({
        "force_remove": force_remove_deleted,
        "format": ETAG_FORMAT,
        "name": marketplace_name,
        "plugins": plugins,
    });
    // serde_json's Map is ordered by key (no `preserve_order`), so this is canonical.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    Etag(crate::git::hex::encode(&digest[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_is_sixteen_hex_and_content_sensitive() {
        let entry = json!({"name": "a"});
        let p = |digest| EtagPlugin {
            dir: "m-a",
            name: "a",
            past_names: &[],
            version: Some("1"),
            entry: &entry,
            digest: Some(digest),
        };
        let one = compute_etag("mk", true, &[p("aa")]);
        assert_eq!(one.as_str().len(), 16);
        assert_eq!(Etag::parse(one.as_str()), Some(one.clone()));
        assert_eq!(one, compute_etag("mk", true, &[p("aa")]));
        assert_ne!(one, compute_etag("mk", true, &[p("bb")]));
        assert_ne!(one, compute_etag("other", true, &[p("aa")]));
        assert_ne!(one, compute_etag("mk", true, &[]));
        assert_ne!(one, compute_etag("mk", false, &[p("aa")]));
        let renamed = EtagPlugin {
            name: "b",
            ..p("aa")
        };
        assert_ne!(one, compute_etag("mk", true, &[renamed]));
        let past = ["a0".to_string()];
        let with_past = EtagPlugin {
            past_names: &past,
            ..p("aa")
        };
        assert_ne!(one, compute_etag("mk", true, &[with_past]));
        assert_eq!(Etag::parse("ABCDEF0123456789"), None);
    }

    #[test]
    fn canonical_form_is_pinned() {
        // From coreutils, not from this code:
        // printf '{"force_remove":true,"format":3,"name":"mk","plugins":[]}' | sha256sum | cut -c1-16
        assert_eq!(compute_etag("mk", true, &[]).as_str(), "6456de724b08be58");
    }
}
