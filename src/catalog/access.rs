//! Effective access: every curated plugin a user is granted, whether they
//! are served it, and why: which groups grant it (and how), or what removed
//! it (their opt-out, an admin's disable). The admin UI shows this.
//!
//! Invariant: `served` agrees with `resolve::entitlements` for the same
//! input, because it is computed by it.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::names::PluginKey;
use super::resolve::{entitlements, Grant, Requirement};

/// A grant of a plugin to one of the user's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupGrant {
    pub group: String,
    pub key: PluginKey,
    pub requirement: Requirement,
}

/// Why a granted plugin is or is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Served through the listed grants.
    Granted,
    /// Opted out by the user (only possible when no grant is `required`).
    OptedOut,
    /// Disabled for everyone by an admin.
    Disabled,
}

/// One granted plugin, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessLine {
    pub marketplace: String,
    pub plugin: String,
    pub served: bool,
    /// The strongest requirement among the grants.
    pub requirement: &'static str,
    pub reason: Reason,
    /// Each group granting it, with that grant's requirement, by group name.
    pub via: Vec<(String, &'static str)>,
}

/// Explains a user's curated access; grants of plugins missing from
/// `existing` (plugin → disabled flag) are dropped, as resolution does.
pub fn explain(
    grants: &[GroupGrant],
    optouts: &HashSet<PluginKey>,
    existing: &BTreeMap<PluginKey, bool>,
) -> Vec<AccessLine> {
    let plain: Vec<Grant> = grants
        .iter()
        .map(|g| Grant {
            key: g.key.clone(),
            requirement: g.requirement,
        })
        .collect();
    entitlements(&plain, optouts, existing)
        .into_iter()
        .map(|e| {
            let mut via: Vec<(String, &'static str)> = grants
                .iter()
                .filter(|g| g.key == e.key)
                .map(|g| (g.group.clone(), g.requirement.as_str()))
                .collect();
            via.sort();
            let reason = if e.disabled {
                Reason::Disabled
            } else if !e.served() {
                Reason::OptedOut
            } else {
                Reason::Granted
            };
            AccessLine {
                marketplace: e.key.slug.to_string(),
                plugin: e.key.plugin.to_string(),
                served: e.served(),
                requirement: e.requirement.as_str(),
                reason,
                via,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str, p: &str) -> PluginKey {
        PluginKey::parse(s, p).unwrap()
    }

    fn grant(group: &str, k: &PluginKey, r: Requirement) -> GroupGrant {
        GroupGrant {
            group: group.into(),
            key: k.clone(),
            requirement: r,
        }
    }

    #[test]
    fn explains_each_grant_opt_out_and_disable() {
        let (a, b, c, gone) = (
            key("m", "a"),
            key("m", "b"),
            key("m", "c"),
            key("m", "gone"),
        );
        let grants = vec![
            grant("eng", &a, Requirement::Available),
            grant("all", &a, Requirement::Required),
            grant("eng", &b, Requirement::Available),
            grant("eng", &c, Requirement::Available),
            grant("eng", &gone, Requirement::Available),
        ];
        let optouts: HashSet<_> = [a.clone(), b.clone()].into();
        let existing: BTreeMap<_, _> =
            [(a.clone(), false), (b.clone(), false), (c.clone(), true)].into();
        let lines = explain(&grants, &optouts, &existing);
        assert_eq!(lines.len(), 3, "a grant of a missing plugin is dropped");
        // a: required through `all`, so the opt-out does not apply.
        assert!(lines[0].served);
        assert_eq!(lines[0].reason, Reason::Granted);
        assert_eq!(lines[0].requirement, "required");
        assert_eq!(
            lines[0].via,
            vec![
                ("all".to_string(), "required"),
                ("eng".to_string(), "available")
            ]
        );
        assert!(!lines[1].served);
        assert_eq!(lines[1].reason, Reason::OptedOut);
        assert!(!lines[2].served);
        assert_eq!(lines[2].reason, Reason::Disabled);
    }
}
