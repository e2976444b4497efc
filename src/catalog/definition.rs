//! What a served view is made of, by name and content: the curated plugins
//! it serves (in served order) and the Store entities installed, each with
//! the digest of its files. Stored per ETag when a view's head is built, so
//! that a view advertised moments ago can be rebuilt after the user's
//! grants or the plugins' files changed (migration 0010: replaced files are
//! kept for the window under their digest). The rebuild is always checked
//! against the advertised ids, so a definition that no longer reproduces
//! its view is refused, never served.

use serde::{Deserialize, Serialize};

use super::names::PluginKey;
use super::resolve::{Entitlement, Requirement};

/// A view by name: `plugins` as `(<slug>/<plugin>, files digest)`, `store`
/// as `(entity id, files digest)`; a digest is `None` for rows stored
/// before digests existed (only their current files can rebuild them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewDefinition {
    pub plugins: Vec<(String, Option<String>)>,
    pub store: Vec<(i64, Option<String>)>,
}

impl ViewDefinition {
    /// The definition of a view serving `plugins` (in order) with
    /// `installed` Store entities.
    pub fn new(
        plugins: impl IntoIterator<Item = (PluginKey, Option<String>)>,
        installed: impl IntoIterator<Item = (i64, Option<String>)>,
    ) -> Self {
        ViewDefinition {
            plugins: plugins
                .into_iter()
                .map(|(k, d)| (k.to_string(), d))
                .collect(),
            store: installed.into_iter().collect(),
        }
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Entitlements that serve exactly the defined plugins, in order
    /// (names that no longer parse are dropped; the id check catches it).
    pub fn entitlements(&self) -> Vec<Entitlement> {
        self.plugins
            .iter()
            .filter_map(|(k, _)| {
                let (slug, plugin) = k.split_once('/')?;
                Some(Entitlement {
                    key: PluginKey::parse(slug, plugin).ok()?,
                    requirement: Requirement::Available,
                    opted_out: false,
                    disabled: false,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::resolve::served_keys;

    fn key(slug: &str, plugin: &str) -> PluginKey {
        PluginKey::parse(slug, plugin).unwrap()
    }

    #[test]
    fn names_plugins_and_installs_with_digests_and_round_trips() {
        let d = ViewDefinition::new(
            [
                (key("tools", "x"), Some("d1".to_string())),
                (key("acme", "lint"), None),
            ],
            [(7, Some("d7".to_string())), (3, None)],
        );
        let json = d.to_json();
        assert_eq!(
            json,
            r#"{"plugins":[["tools/x","d1"],["acme/lint",null]],"store":[[7,"d7"],[3,null]]}"#
        );
        let back: ViewDefinition = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        // Entitlements keep the defined order, and every one is served.
        let keys: Vec<String> = served_keys(&back.entitlements())
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(keys, ["tools/x", "acme/lint"]);
    }
}
