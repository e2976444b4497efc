//! Served names: the name each curated plugin has in the served
//! `marketplace.json`, which is what a member installs
//! (`<name>@<marketplace>`) and what Claude Code finds the install by on
//! every later update.
//!
//! Claude Code's plugin namespace is flat, so two marketplaces' `lint`
//! cannot both be served as `lint`. Which one is `lint` is decided once,
//! catalog-wide, when a plugin is first imported or synced, and stored;
//! a view only reads it. So a plugin's name never depends on what else a
//! member's view holds, and granting another marketplace's `lint` never
//! turns an installed `lint` into a different plugin.
//!
//! Invariants: a name is held by at most one plugin, as its current name
//! or as a past one (a renamed plugin keeps its past names, so a member's
//! install under an old name is migrated, never captured by another
//! plugin); a plugin holds exactly one current name from its first import
//! until its marketplace is deleted, through every re-import.

use std::collections::HashSet;

use super::names::{PluginKey, PluginName, Slug};
use super::store::is_kebab_case;

/// A name some plugin holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldName {
    pub name: String,
    pub key: PluginKey,
    /// Its current name (else one it was renamed from).
    pub current: bool,
}

/// Why an admin's rename was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenameError {
    #[error("served name `{0}` must be kebab-case (lowercase letters, digits and single hyphens, at most 64 characters)")]
    NotKebabCase(String),
}

/// A name an admin chose for a plugin: kebab-case, as Claude Code asks of
/// plugin names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServedName(String);

impl NewServedName {
    /// Parses an admin's choice.
    pub fn parse(s: &str) -> Result<Self, RenameError> {
        if is_kebab_case(s) {
            Ok(NewServedName(s.to_string()))
        } else {
            Err(RenameError::NotKebabCase(s.to_string()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Names for those of marketplace `slug`'s `plugins` (name in the
/// marketplace, the name it asks for) that hold no current name yet, in
/// the order given: the name asked for when nobody holds it, else
/// `<name>-<slug>`, else `<name>-<slug>-2`, `-3`, … (first come keeps its
/// name). `reserved` are names taken outside `held` (the Store's).
pub fn assign_names(
    held: &[HeldName],
    reserved: &HashSet<String>,
    slug: &Slug,
    plugins: &[(PluginName, String)],
) -> Vec<(PluginName, String)> {
    let has_current: HashSet<&PluginName> = held
        .iter()
        .filter(|h| h.current && &h.key.slug == slug)
        .map(|h| &h.key.plugin)
        .collect();
    let mut taken: HashSet<String> = held.iter().map(|h| h.name.clone()).collect();
    taken.extend(reserved.iter().cloned());
    let mut out = Vec::new();
    for (plugin, wanted) in plugins {
        if has_current.contains(plugin) {
            continue;
        }
        let name = candidates(wanted, slug)
            .find(|c| !taken.contains(c))
            .expect("candidates never end");
        taken.insert(name.clone());
        out.push((plugin.clone(), name));
    }
    out
}

/// `wanted`, `<wanted>-<slug>`, then `<wanted>-<slug>-2`, `-3`, ….
fn candidates<'a>(wanted: &'a str, slug: &'a Slug) -> impl Iterator<Item = String> + 'a {
    std::iter::once(wanted.to_string())
        .chain(std::iter::once(format!("{wanted}-{slug}")))
        .chain((2u64..).map(move |n| format!("{wanted}-{slug}-{n}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(slug: &str, plugin: &str) -> PluginKey {
        PluginKey::parse(slug, plugin).unwrap()
    }

    fn held(name: &str, slug: &str, plugin: &str, current: bool) -> HeldName {
        HeldName {
            name: name.into(),
            key: key(slug, plugin),
            current,
        }
    }

    fn ask(plugins: &[(&str, &str)]) -> Vec<(PluginName, String)> {
        plugins
            .iter()
            .map(|(p, w)| (PluginName::parse(p).unwrap(), w.to_string()))
            .collect()
    }

    fn names(out: Vec<(PluginName, String)>) -> Vec<(String, String)> {
        out.into_iter()
            .map(|(p, n)| (p.as_str().to_string(), n))
            .collect()
    }

    #[test]
    fn first_come_keeps_its_name_and_a_later_one_gets_its_slug() {
        let zz = Slug::parse("zz").unwrap();
        let aa = Slug::parse("aa").unwrap();
        let first = assign_names(&[], &HashSet::new(), &zz, &ask(&[("lint", "lint")]));
        assert_eq!(names(first), [("lint".into(), "lint".into())]);
        // `aa` sorts first but came later: it does not take `lint`.
        let book = [held("lint", "zz", "lint", true)];
        let later = assign_names(&book, &HashSet::new(), &aa, &ask(&[("lint", "lint")]));
        assert_eq!(names(later), [("lint".into(), "lint-aa".into())]);
    }

    #[test]
    fn the_next_free_name_follows_when_the_slug_form_is_taken_too() {
        let aa = Slug::parse("aa").unwrap();
        let book = [
            held("lint", "zz", "lint", true),
            held("lint-aa", "bb", "lint-aa", true),
            held("lint-aa-2", "cc", "x", false), // a past name is held as well
        ];
        let out = assign_names(&book, &HashSet::new(), &aa, &ask(&[("lint", "lint")]));
        assert_eq!(names(out), [("lint".into(), "lint-aa-3".into())]);
    }

    #[test]
    fn a_re_import_keeps_every_name_and_names_only_new_plugins() {
        let aa = Slug::parse("aa").unwrap();
        let book = [
            held("fmt-renamed", "aa", "fmt", true),
            held("fmt", "aa", "fmt", false),
        ];
        let out = assign_names(
            &book,
            &HashSet::new(),
            &aa,
            &ask(&[("fmt", "fmt"), ("new", "new")]),
        );
        assert_eq!(names(out), [("new".into(), "new".into())]);
    }

    #[test]
    fn one_import_never_gives_two_plugins_one_name() {
        // Two entries whose plugin.json ask for the same name.
        let aa = Slug::parse("aa").unwrap();
        let out = assign_names(
            &[],
            &HashSet::new(),
            &aa,
            &ask(&[("a", "lint"), ("b", "lint")]),
        );
        assert_eq!(
            names(out),
            [("a".into(), "lint".into()), ("b".into(), "lint-aa".into())]
        );
    }

    #[test]
    fn reserved_names_and_freed_names() {
        let aa = Slug::parse("aa").unwrap();
        let reserved: HashSet<String> = ["lint-by-bob".to_string()].into();
        let out = assign_names(&[], &reserved, &aa, &ask(&[("x", "lint-by-bob")]));
        assert_eq!(names(out), [("x".into(), "lint-by-bob-aa".into())]);
        // A deleted marketplace's names are gone from the book: free again.
        let out = assign_names(&[], &HashSet::new(), &aa, &ask(&[("lint", "lint")]));
        assert_eq!(names(out), [("lint".into(), "lint".into())]);
    }

    #[test]
    fn an_admin_name_is_kebab_case() {
        assert!(NewServedName::parse("lint-2").is_ok());
        for bad in [
            "",
            "Lint",
            "lint_2",
            "-lint",
            "lint-",
            "a--b",
            "a.b",
            &"a".repeat(65),
        ] {
            assert!(NewServedName::parse(bad).is_err(), "{bad}");
        }
    }
}
