//! Resolution: which curated plugins a user is served.
//!
//! served = plugins granted to any of the user's groups, minus admin-disabled
//! ones, minus the user's opt-outs, except that a `required` grant cannot be
//! opted out. No group is implicit; admins are resolved like everyone else.
//! The result is sorted by catalog key, so it is the same for the same state.

use std::collections::{BTreeMap, HashSet};

use super::names::PluginKey;

/// How a grant binds its group's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Requirement {
    Available,
    Required,
}

impl Requirement {
    /// Parses `available` or `required`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "available" => Some(Requirement::Available),
            "required" => Some(Requirement::Required),
            _ => None,
        }
    }

    /// The stored and API form.
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Available => "available",
            Requirement::Required => "required",
        }
    }
}

/// One grant reaching the user through one of their groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub key: PluginKey,
    pub requirement: Requirement,
}

/// A granted plugin and whether the user receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    pub key: PluginKey,
    /// The strongest requirement among the user's grants for it.
    pub requirement: Requirement,
    pub opted_out: bool,
    pub disabled: bool,
}

impl Entitlement {
    /// Whether the plugin is in the user's served tree.
    pub fn served(&self) -> bool {
        !self.disabled && (self.requirement == Requirement::Required || !self.opted_out)
    }
}

/// Merges grants (strongest requirement wins) and applies opt-outs and
/// disabled flags. `existing` maps each catalog plugin to its disabled flag;
/// grants of plugins not in the catalog are dropped.
pub fn entitlements(
    grants: &[Grant],
    optouts: &HashSet<PluginKey>,
    existing: &BTreeMap<PluginKey, bool>,
) -> Vec<Entitlement> {
    let mut merged: BTreeMap<&PluginKey, Requirement> = BTreeMap::new();
    for g in grants {
        let slot = merged.entry(&g.key).or_insert(g.requirement);
        *slot = (*slot).max(g.requirement);
    }
    merged
        .into_iter()
        .filter_map(|(key, requirement)| {
            let disabled = *existing.get(key)?;
            Some(Entitlement {
                key: key.clone(),
                requirement,
                opted_out: optouts.contains(key),
                disabled,
            })
        })
        .collect()
}

/// The keys of the plugins the user is served, in catalog order.
pub fn served_keys(entitlements: &[Entitlement]) -> Vec<PluginKey> {
    entitlements
        .iter()
        .filter(|e| e.served())
        .map(|e| e.key.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str, p: &str) -> PluginKey {
        PluginKey::parse(s, p).unwrap()
    }

    #[test]
    fn grants_optouts_required_and_disabled() {
        let (a, b, c, d, gone) = (
            key("m", "a"),
            key("m", "b"),
            key("m", "c"),
            key("n", "d"),
            key("m", "gone"),
        );
        let grants = vec![
            Grant {
                key: b.clone(),
                requirement: Requirement::Available,
            },
            Grant {
                key: a.clone(),
                requirement: Requirement::Available,
            },
            Grant {
                key: a.clone(),
                requirement: Requirement::Required,
            }, // second group
            Grant {
                key: c.clone(),
                requirement: Requirement::Available,
            },
            Grant {
                key: d.clone(),
                requirement: Requirement::Available,
            },
            Grant {
                key: gone,
                requirement: Requirement::Available,
            },
        ];
        let optouts: HashSet<PluginKey> = [a.clone(), b.clone()].into_iter().collect();
        let existing: BTreeMap<PluginKey, bool> = [
            (a.clone(), false),
            (b.clone(), false),
            (c.clone(), true),
            (d.clone(), false),
        ]
        .into_iter()
        .collect();
        let ents = entitlements(&grants, &optouts, &existing);
        assert_eq!(
            ents.len(),
            4,
            "grant of a plugin not in the catalog is dropped"
        );
        assert_eq!(
            ents[0].requirement,
            Requirement::Required,
            "strongest grant wins"
        );
        // a: required beats the opt-out; b: opted out; c: disabled; d: served.
        assert_eq!(served_keys(&ents), vec![a, d]);
    }

    #[test]
    fn no_grants_means_nothing_served() {
        assert!(served_keys(&entitlements(&[], &HashSet::new(), &BTreeMap::new())).is_empty());
    }
}
