//! Parsing an imported marketplace repository: finding
//! `.claude-plugin/marketplace.json`, resolving each plugin's source and
//! collecting its files and `plugin.json`.
//!
//! Invariants: a local source never resolves outside the repository root;
//! plugin names are unique and valid; every local plugin has at least one
//! file; a plugin's `plugin.json`, when present, is a JSON object whose
//! `name` (if any) is a valid plugin name. External sources (`github`,
//! `url`, `git-subdir`, …) are kept as catalog-only entries, untouched.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::archive::{ArchiveError, ArchiveFile};
use super::names::{NameError, PluginName};
use crate::git::path::RepoPath;

/// Where the manifest lives inside a marketplace repository.
pub const MANIFEST_PATH: &str = ".claude-plugin/marketplace.json";
/// Where a plugin's own manifest lives inside its directory.
pub const PLUGIN_JSON_PATH: &str = ".claude-plugin/plugin.json";

/// A marketplace read from an archive.
#[derive(Debug, Clone)]
pub struct ImportedMarketplace {
    /// The upstream `name`.
    pub name: String,
    pub plugins: Vec<ImportedPlugin>,
}

/// One plugin entry of an imported marketplace.
#[derive(Debug, Clone)]
pub struct ImportedPlugin {
    pub name: PluginName,
    /// `plugin.json`'s name, falling back to the upstream entry's.
    pub manifest_name: String,
    /// `plugin.json`'s version, falling back to the entry's.
    pub version: Option<String>,
    /// The upstream entry, verbatim.
    pub entry: Map<String, Value>,
    /// Files relative to the plugin root; empty for external sources.
    pub files: Vec<ArchiveFile>,
    /// Where those files lie in the archive (`""` or a path ending in `/`).
    pub source_dir: String,
    pub external: bool,
}

/// Why an import was refused. `code()` is the API's machine code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("no .claude-plugin/marketplace.json at the archive root or under one top folder")]
    NoManifest,
    #[error("more than one .claude-plugin/marketplace.json; put exactly one at the root or under one top folder")]
    AmbiguousManifest,
    #[error("marketplace.json is invalid: {0}")]
    BadManifest(String),
    #[error("plugin `{0}` is listed twice")]
    DuplicatePlugin(String),
    #[error("plugin name: {0}")]
    BadPluginName(#[from] NameError),
    #[error("plugin `{plugin}`: source `{path}` escapes the repository root")]
    SourceEscapes { plugin: String, path: String },
    #[error("plugin `{plugin}`: {reason}")]
    BadSource { plugin: String, reason: String },
    #[error("plugin `{plugin}`: source `{path}` holds no files")]
    EmptyPlugin { plugin: String, path: String },
    #[error("plugin `{plugin}`: .claude-plugin/plugin.json is invalid: {reason}")]
    BadPluginJson { plugin: String, reason: String },
}

impl ImportError {
    /// The machine-readable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Archive(e) => e.code(),
            ImportError::NoManifest => "no_manifest",
            ImportError::AmbiguousManifest => "ambiguous_manifest",
            ImportError::BadManifest(_) => "bad_manifest",
            ImportError::DuplicatePlugin(_) => "duplicate_plugin",
            ImportError::BadPluginName(_) => "bad_plugin_name",
            ImportError::SourceEscapes { .. } => "source_escapes_root",
            ImportError::BadSource { .. } => "bad_source",
            ImportError::EmptyPlugin { .. } => "empty_plugin",
            ImportError::BadPluginJson { .. } => "bad_plugin_json",
        }
    }
}

/// Finds the repository root: `""` or the single top folder (with `/`).
fn find_root(files: &[ArchiveFile]) -> Result<String, ImportError> {
    let hits: Vec<&str> = files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| {
            *p == MANIFEST_PATH
                || (p.ends_with(MANIFEST_PATH)
                    && p[..p.len() - MANIFEST_PATH.len()].matches('/').count() == 1)
        })
        .collect();
    match hits.as_slice() {
        [] => Err(ImportError::NoManifest),
        [one] => {
            let root = &one[..one.len() - MANIFEST_PATH.len()];
            if files.iter().all(|f| f.path.as_str().starts_with(root)) {
                Ok(root.to_string())
            } else {
                Err(ImportError::NoManifest)
            }
        }
        _ => Err(ImportError::AmbiguousManifest),
    }
}

/// Normalises a `./`-relative source to a directory path (`""` = root).
fn resolve_dir(plugin: &str, source: &str) -> Result<String, ImportError> {
    let escapes = || ImportError::SourceEscapes {
        plugin: plugin.to_string(),
        path: source.to_string(),
    };
    if source.starts_with('/') || source.contains('\\') {
        return Err(escapes());
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in source.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(escapes()),
            s => parts.push(s),
        }
    }
    let dir = parts.join("/");
    if !dir.is_empty() {
        RepoPath::parse(&dir).map_err(|e| ImportError::BadSource {
            plugin: plugin.to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(dir)
}

/// Whether parsing needs the content of the file at `path` (a marketplace
/// or plugin manifest); other files are only listed.
pub fn is_manifest(path: &RepoPath) -> bool {
    let p = path.as_str();
    p.ends_with(MANIFEST_PATH) || p.ends_with(PLUGIN_JSON_PATH)
}

/// Parses the marketplace in `files` (as read from the archive; only the
/// files `is_manifest` accepts need their content).
pub fn parse_marketplace(files: Vec<ArchiveFile>) -> Result<ImportedMarketplace, ImportError> {
    let root = find_root(&files)?;
    // Re-root every path under the repository root.
    let files: Vec<ArchiveFile> = files
        .into_iter()
        .filter_map(|f| {
            let rel = f.path.as_str().strip_prefix(&root)?.to_string();
            Some(ArchiveFile {
                path: RepoPath::parse(&rel).ok()?,
                exec: f.exec,
                content: f.content,
            })
        })
        .collect();
    let manifest_bytes = files
        .iter()
        .find(|f| f.path.as_str() == MANIFEST_PATH)
        .map(|f| f.content.clone())
        .ok_or(ImportError::NoManifest)?;
    let manifest: Value = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| ImportError::BadManifest(e.to_string()))?;
    let obj = manifest
        .as_object()
        .ok_or_else(|| ImportError::BadManifest("top level is not an object".into()))?;
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::BadManifest("`name` is missing or not a string".into()))?
        .to_string();
    let entries = obj
        .get("plugins")
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError::BadManifest("`plugins` is missing or not an array".into()))?;
    let plugin_root = obj
        .get("metadata")
        .and_then(|m| m.get("pluginRoot"))
        .and_then(Value::as_str)
        .map(str::to_string);

    let mut seen = HashSet::new();
    let mut plugins = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let entry = entry
            .as_object()
            .ok_or_else(|| ImportError::BadManifest(format!("plugins[{i}] is not an object")))?;
        let raw_name = entry.get("name").and_then(Value::as_str).ok_or_else(|| {
            ImportError::BadManifest(format!("plugins[{i}].name is missing or not a string"))
        })?;
        let name = PluginName::parse(raw_name)?;
        if !seen.insert(raw_name.to_string()) {
            return Err(ImportError::DuplicatePlugin(raw_name.to_string()));
        }
        let entry_version = entry
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_string);
        match entry.get("source") {
            Some(Value::String(src)) => {
                if src.starts_with('/') || src.split('/').any(|s| s == "..") {
                    return Err(ImportError::SourceEscapes {
                        plugin: raw_name.into(),
                        path: src.clone(),
                    });
                }
                let joined = match (&plugin_root, src.starts_with("./") || src == ".") {
                    (_, true) => src.clone(),
                    (Some(pr), false) => format!("{}/{}", pr.trim_end_matches('/'), src),
                    (None, false) => {
                        return Err(ImportError::BadSource {
                            plugin: raw_name.into(),
                            reason: format!("relative source `{src}` must start with `./`"),
                        });
                    }
                };
                let dir = resolve_dir(raw_name, &joined)?;
                let prefix = if dir.is_empty() {
                    String::new()
                } else {
                    format!("{dir}/")
                };
                let plugin_files: Vec<ArchiveFile> = files
                    .iter()
                    .filter_map(|f| {
                        let rel = f.path.as_str().strip_prefix(&prefix)?;
                        Some(ArchiveFile {
                            path: RepoPath::parse(rel).ok()?,
                            exec: f.exec,
                            content: f.content.clone(),
                        })
                    })
                    .collect();
                if plugin_files.is_empty() {
                    return Err(ImportError::EmptyPlugin {
                        plugin: raw_name.into(),
                        path: src.clone(),
                    });
                }
                let (pj_name, pj_version) = read_plugin_json(raw_name, &plugin_files)?;
                plugins.push(ImportedPlugin {
                    manifest_name: pj_name.unwrap_or_else(|| raw_name.to_string()),
                    version: pj_version.or(entry_version),
                    name,
                    entry: entry.clone(),
                    files: plugin_files,
                    source_dir: format!("{root}{prefix}"),
                    external: false,
                });
            }
            Some(Value::Object(_)) => plugins.push(ImportedPlugin {
                manifest_name: raw_name.to_string(),
                version: entry_version,
                name,
                entry: entry.clone(),
                files: Vec::new(),
                source_dir: String::new(),
                external: true,
            }),
            _ => {
                return Err(ImportError::BadSource {
                    plugin: raw_name.into(),
                    reason: "`source` must be a `./` path or a source object".into(),
                })
            }
        }
    }
    Ok(ImportedMarketplace { name, plugins })
}

/// Reads `name` and `version` from the plugin's `plugin.json`, if present.
fn read_plugin_json(
    plugin: &str,
    files: &[ArchiveFile],
) -> Result<(Option<String>, Option<String>), ImportError> {
    let Some(f) = files.iter().find(|f| f.path.as_str() == PLUGIN_JSON_PATH) else {
        return Ok((None, None));
    };
    let bad = |reason: String| ImportError::BadPluginJson {
        plugin: plugin.to_string(),
        reason,
    };
    let v: Value = serde_json::from_slice(&f.content).map_err(|e| bad(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("top level is not an object".into()))?;
    let name = match obj.get("name") {
        None => None,
        Some(Value::String(n)) => Some(
            PluginName::parse(n)
                .map_err(|e| bad(e.to_string()))?
                .as_str()
                .to_string(),
        ),
        Some(_) => return Err(bad("`name` is not a string".into())),
    };
    let version = obj
        .get("version")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, content: &str) -> ArchiveFile {
        ArchiveFile {
            path: RepoPath::parse(path).unwrap(),
            exec: false,
            content: content.as_bytes().to_vec(),
        }
    }

    fn manifest(plugins: &str) -> ArchiveFile {
        f(
            MANIFEST_PATH,
            &format!(r#"{{"name":"acme","owner":{{"name":"a"}},"plugins":[{plugins}]}}"#),
        )
    }

    #[test]
    fn local_and_external_plugins() {
        let files = vec![
            manifest(
                r#"{"name":"lint","source":"./plugins/lint","description":"d"},{"name":"gh","source":{"source":"github","repo":"o/r"}}"#,
            ),
            f(
                "plugins/lint/.claude-plugin/plugin.json",
                r#"{"name":"lint-pro","version":"2.0.0"}"#,
            ),
            f("plugins/lint/commands/x.md", "x"),
            f("README.md", "r"),
        ];
        let m = parse_marketplace(files).unwrap();
        assert_eq!(m.name, "acme");
        assert_eq!(m.plugins.len(), 2);
        let lint = &m.plugins[0];
        assert_eq!(
            (lint.manifest_name.as_str(), lint.version.as_deref()),
            ("lint-pro", Some("2.0.0"))
        );
        let paths: Vec<&str> = lint.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec![".claude-plugin/plugin.json", "commands/x.md"]);
        assert!(m.plugins[1].external && m.plugins[1].files.is_empty());
    }

    #[test]
    fn manifest_under_one_top_folder() {
        let files = vec![
            f(
                &format!("repo-main/{MANIFEST_PATH}"),
                r#"{"name":"acme","plugins":[{"name":"a","source":"./a"}]}"#,
            ),
            f("repo-main/a/x.md", "x"),
        ];
        let m = parse_marketplace(files).unwrap();
        assert_eq!(m.plugins[0].files[0].path.as_str(), "x.md");
    }

    #[test]
    fn plugin_root_prefixes_bare_sources() {
        let files = vec![
            f(
                MANIFEST_PATH,
                r#"{"name":"acme","metadata":{"pluginRoot":"./plugins"},"plugins":[{"name":"a","source":"a"}]}"#,
            ),
            f("plugins/a/x.md", "x"),
        ];
        assert_eq!(parse_marketplace(files).unwrap().plugins[0].files.len(), 1);
    }

    #[test]
    fn refusals() {
        let cases: Vec<(Vec<ArchiveFile>, &str)> = vec![
            (vec![f("README.md", "x")], "no_manifest"),
            (vec![f(MANIFEST_PATH, "{not json")], "bad_manifest"),
            (vec![f(MANIFEST_PATH, r#"{"name":"x"}"#)], "bad_manifest"),
            (
                vec![manifest(r#"{"name":"a","source":"./../etc"}"#)],
                "source_escapes_root",
            ),
            (
                vec![manifest(r#"{"name":"a","source":"./a/../../x"}"#)],
                "source_escapes_root",
            ),
            (
                vec![manifest(r#"{"name":"a","source":"/abs"}"#)],
                "source_escapes_root",
            ),
            (vec![manifest(r#"{"name":"a","source":"a"}"#)], "bad_source"),
            (
                vec![manifest(r#"{"name":"a","source":"./missing"}"#)],
                "empty_plugin",
            ),
            (
                vec![
                    manifest(r#"{"name":"a","source":"./a"},{"name":"a","source":"./a"}"#),
                    f("a/x", "x"),
                ],
                "duplicate_plugin",
            ),
            (
                vec![manifest(r#"{"name":"../a","source":"./a"}"#)],
                "bad_plugin_name",
            ),
            (
                vec![
                    manifest(r#"{"name":"a","source":"./a"}"#),
                    f("a/.claude-plugin/plugin.json", "[1]"),
                ],
                "bad_plugin_json",
            ),
            (
                vec![
                    f(&format!("x/{MANIFEST_PATH}"), "{}"),
                    f(&format!("y/{MANIFEST_PATH}"), "{}"),
                ],
                "ambiguous_manifest",
            ),
        ];
        for (files, code) in cases {
            let err = parse_marketplace(files).unwrap_err();
            assert_eq!(err.code(), code, "{err}");
        }
    }
}
