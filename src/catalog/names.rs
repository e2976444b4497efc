//! Names that appear in URLs, catalog keys and served paths, parsed once at
//! the boundary so the rest of the code can trust them.
//!
//! Invariants: every name here is non-empty ASCII, safe as a single URL path
//! segment and as a single git path segment.

use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("marketplace slug `{0}` must match ^[a-z0-9][a-z0-9_-]{{0,63}}$")]
    BadSlug(String),
    #[error("marketplace slug `{0}` is reserved for the Store")]
    ReservedSlug(String),
    #[error("plugin name `{0}` must be 1-100 characters of letters, digits, `.`, `_` or `-`, starting with a letter or digit")]
    BadPluginName(String),
    #[error("username `{0}` must match ^[a-z0-9][a-z0-9_-]{{0,38}}$")]
    BadUsername(String),
    #[error("group name `{0}` must match ^[a-z0-9][a-z0-9_-]{{0,63}}$")]
    BadGroupName(String),
}

fn lower_slug(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

name_type!(
    /// A curated marketplace's slug: `^[a-z0-9][a-z0-9_-]{0,63}$`, not
    /// `store` and not starting `store-` (those name Store plugins).
    Slug
);
name_type!(
    /// A plugin's name inside its marketplace (the upstream entry's name).
    PluginName
);
name_type!(
    /// A user's login name.
    Username
);
name_type!(
    /// A group's name.
    GroupName
);

impl Slug {
    /// Parses and checks the reserved names.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if !lower_slug(s, 64) {
            return Err(NameError::BadSlug(s.to_string()));
        }
        if s == "store" || s.starts_with("store-") {
            return Err(NameError::ReservedSlug(s.to_string()));
        }
        Ok(Slug(s.to_string()))
    }
}

impl PluginName {
    /// Parses a plugin name: letters, digits, `.`, `_`, `-`; no `..`.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 100
            && b[0].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
            && !s.contains("..");
        if ok {
            Ok(PluginName(s.to_string()))
        } else {
            Err(NameError::BadPluginName(s.to_string()))
        }
    }
}

impl Username {
    /// Parses a username.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if lower_slug(s, 39) {
            Ok(Username(s.to_string()))
        } else {
            Err(NameError::BadUsername(s.to_string()))
        }
    }
}

impl GroupName {
    /// Parses a group name.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if lower_slug(s, 64) {
            Ok(GroupName(s.to_string()))
        } else {
            Err(NameError::BadGroupName(s.to_string()))
        }
    }
}

/// A curated plugin's catalog key, `<slug>/<plugin>`, as grants and opt-outs
/// name it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PluginKey {
    pub slug: Slug,
    pub plugin: PluginName,
}

impl PluginKey {
    /// Parses both halves of a key.
    pub fn parse(slug: &str, plugin: &str) -> Result<PluginKey, NameError> {
        Ok(PluginKey {
            slug: Slug::parse(slug)?,
            plugin: PluginName::parse(plugin)?,
        })
    }

    /// The directory the plugin is served in: `plugins/<slug>-<plugin>`'s last segment.
    pub fn served_dir(&self) -> String {
        format!("{}-{}", self.slug, self.plugin)
    }
}

impl fmt::Display for PluginKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.slug, self.plugin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(Slug::parse("acme").is_ok());
        assert!(Slug::parse("a_b-9").is_ok());
        assert!(Slug::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            Slug::parse("store"),
            Err(NameError::ReservedSlug("store".into()))
        );
        assert_eq!(
            Slug::parse("store-x"),
            Err(NameError::ReservedSlug("store-x".into()))
        );
        assert!(Slug::parse("storefront").is_ok());
        for bad in ["", "-a", "A", "a/b", "a.b", &"a".repeat(65)] {
            assert!(
                matches!(Slug::parse(bad), Err(NameError::BadSlug(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn plugin_names() {
        assert!(PluginName::parse("code-review").is_ok());
        assert!(PluginName::parse("My.Plugin_2").is_ok());
        for bad in ["", ".hidden", "a/b", "a..b", "a b", "é"] {
            assert!(PluginName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn served_dir_joins_slug_and_plugin() {
        let k = PluginKey {
            slug: Slug::parse("acme").unwrap(),
            plugin: PluginName::parse("lint").unwrap(),
        };
        assert_eq!(k.served_dir(), "acme-lint");
        assert_eq!(k.to_string(), "acme/lint");
    }
}
