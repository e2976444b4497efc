//! The house rules, measured on the source tree's import graph (issue 18):
//! only `lib.rs` at `src/`'s root, every file on one of the four floors
//! (`git` 1, `catalog` 2, `storage` 3, `http` 4) importing nothing from a
//! higher floor, no file over 450 lines before its unit tests, and no
//! circle of imports among the files of `src/` or of `www/js/`.
//!
//! Imports are read from the text: `crate::…` paths anywhere in a file,
//! `super::…` paths, and `use` lines; a name a folder's `mod.rs` only hands
//! on (`pub use sub::Name`) is followed to the file that defines it, as a
//! reader would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const FLOORS: [(&str, usize); 4] = [("git", 1), ("catalog", 2), ("storage", 3), ("http", 4)];
const MAX_LINES: usize = 450;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source folder") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files_under(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Every `.rs` file under `src/`, as a path relative to `src/`
/// (`storage/gc.rs`).
fn sources() -> Vec<String> {
    let src = root().join("src");
    let mut files = Vec::new();
    files_under(&src, "rs", &mut files);
    let mut rel: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&src).unwrap().to_string_lossy().into_owned())
        .collect();
    rel.sort();
    rel
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join("src").join(rel)).expect("read a source file")
}

/// A file's text before its unit tests, without comments.
fn code(rel: &str) -> String {
    let text = read(rel);
    let before_tests = text.split("\n#[cfg(test)]").next().unwrap_or_default();
    before_tests
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn floor_of(rel: &str) -> Option<usize> {
    let top = rel.split('/').next()?;
    FLOORS.iter().find(|(f, _)| *f == top).map(|(_, n)| *n)
}

/// The module path of a file: `storage/gc.rs` → `["storage", "gc"]`.
fn module_of(rel: &str) -> Vec<String> {
    let mut segs: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if segs.last().is_some_and(|s| s == "mod" || s == "lib") {
        segs.pop();
    }
    segs
}

/// The file that defines module `path`, if it is a file of `src/`.
fn file_of(path: &[String], files: &BTreeSet<String>) -> Option<String> {
    if path.is_empty() {
        return Some("lib.rs".into());
    }
    let joined = path.join("/");
    [format!("{joined}.rs"), format!("{joined}/mod.rs")]
        .into_iter()
        .find(|f| files.contains(f))
}

/// What each `mod.rs` hands on: (folder module, name) → the child module
/// it comes from, read from `pub use child::{a, b}` / `pub use child::a`.
fn re_exports(files: &BTreeSet<String>) -> BTreeMap<(Vec<String>, String), String> {
    let mut out = BTreeMap::new();
    for f in files
        .iter()
        .filter(|f| f.ends_with("mod.rs") || *f == "lib.rs")
    {
        let module = module_of(f);
        let text = code(f);
        for stmt in text.split(';') {
            let stmt = stmt.trim();
            let Some(rest) = stmt
                .strip_prefix("pub use ")
                .or_else(|| stmt.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            let rest = rest.trim_start_matches("self::");
            let Some((child, names)) = rest.split_once("::") else {
                continue;
            };
            for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
                let name = name.split(" as ").last().unwrap_or("").trim();
                if !name.is_empty() {
                    out.insert((module.clone(), name.to_string()), child.to_string());
                }
            }
        }
    }
    out
}

/// Expands a `use` tree's braces one level: `a::{b, c::d}` → `a::b`, `a::c::d`.
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else {
        return vec![path.to_string()];
    };
    let (head, tail) = path.split_at(open);
    let inner = tail.trim_start_matches('{').trim_end_matches('}');
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{head}{p}")))
        .collect()
}

/// The `crate::…` and `super::…` paths a file names, as absolute module
/// paths (`["storage", "gc", "GcSettings"]`).
fn named_paths(rel: &str, files: &BTreeSet<String>) -> Vec<Vec<String>> {
    let text = code(rel);
    let module = module_of(rel);
    // `super` is relative to the module a file defines (a `mod.rs` is its
    // folder's module).
    let mut found = Vec::new();
    let mut take = |path: &str| {
        for p in expand(path) {
            let segs: Vec<&str> = p.split("::").map(str::trim).collect();
            let mut abs: Vec<String> = Vec::new();
            let mut rest = &segs[..];
            if rest.first() == Some(&"crate") {
                rest = &rest[1..];
            } else if rest.first() == Some(&"super") {
                abs = module.clone();
                while rest.first() == Some(&"super") {
                    abs.pop();
                    rest = &rest[1..];
                }
            } else {
                // A path below this module (`use cf_access::x` in a mod.rs).
                abs = module.clone();
            }
            abs.extend(
                rest.iter()
                    .map(|s| s.split(" as ").next().unwrap().to_string()),
            );
            found.push(abs);
        }
    };
    for stmt in text.split(';') {
        let stmt = stmt.trim();
        let stmt = stmt
            .strip_prefix("pub(crate) ")
            .or_else(|| stmt.strip_prefix("pub(super) "))
            .or_else(|| stmt.strip_prefix("pub "))
            .unwrap_or(stmt);
        if let Some(path) = stmt.strip_prefix("use ") {
            let compact: String = path.split_whitespace().collect::<Vec<_>>().join(" ");
            let is_std = ["std::", "core::", "alloc::"]
                .iter()
                .any(|p| compact.starts_with(p));
            let external = !compact.starts_with("crate::")
                && !compact.starts_with("super::")
                && !compact.starts_with("self::");
            let local_child = {
                let first = compact.split("::").next().unwrap_or("");
                file_of(&[module.clone(), vec![first.to_string()]].concat(), files).is_some()
            };
            if !is_std && (!external || local_child) {
                take(compact.trim_start_matches("self::"));
            }
        }
    }
    // Paths written inline (`crate::storage::clock_ms()`, `super::view::x`).
    for prefix in ["crate::", "super::"] {
        let mut at = 0;
        while let Some(i) = text[at..].find(prefix) {
            let start = at + i;
            let preceded = text[..start]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let end = text[start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(text.len(), |e| start + e);
            if !preceded {
                take(text[start..end].trim_end_matches(':'));
            }
            at = end.max(start + prefix.len());
        }
    }
    found
}

fn all_files() -> BTreeSet<String> {
    sources().into_iter().collect()
}

/// Import edges between files of `src/`: file → files it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = all_files();
    let exports = re_exports(&files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let mut to = BTreeSet::new();
        for path in named_paths(f, &files) {
            // The deepest prefix of the path that is a file, then through
            // a folder's re-exports to the file that defines the name.
            let mut target = None;
            for len in (0..=path.len()).rev() {
                if let Some(file) = file_of(&path[..len], &files) {
                    target = Some((file, len));
                    break;
                }
            }
            let Some((mut file, mut len)) = target else {
                continue;
            };
            while let Some(child) = path
                .get(len)
                .and_then(|name| exports.get(&(path[..len].to_vec(), name.clone())))
            {
                let child_path = [path[..len].to_vec(), vec![child.clone()]].concat();
                match file_of(&child_path, &files) {
                    Some(next) if next != file => {
                        file = next;
                        len = child_path.len();
                    }
                    _ => break,
                }
            }
            if &file != f && file != "lib.rs" {
                to.insert(file);
            }
        }
        edges.insert(f.clone(), to);
    }
    edges
}

/// Every circle of `edges`, each as its files in order (Tarjan's strongly
/// connected components with more than one file).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn only_lib_rs_stands_at_the_root_of_src() {
    let loose: Vec<String> = sources()
        .into_iter()
        .filter(|f| !f.contains('/') && f != "lib.rs")
        .collect();
    assert!(
        loose.is_empty(),
        "move these into a layer folder: {loose:?}"
    );
    let outside: Vec<String> = sources()
        .into_iter()
        .filter(|f| f.contains('/') && floor_of(f).is_none())
        .collect();
    assert!(outside.is_empty(), "folders that are no floor: {outside:?}");
}

#[test]
fn no_file_is_over_450_lines_before_its_tests() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter_map(|f| {
            let text = read(&f);
            let n = text
                .split("\n#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .lines()
                .count();
            (n > MAX_LINES).then(|| format!("{f}: {n} lines"))
        })
        .collect();
    assert!(long.is_empty(), "split by job: {long:?}");
}

#[test]
fn nothing_is_imported_from_a_higher_floor() {
    let edges = graph();
    let mut up = Vec::new();
    for (from, tos) in &edges {
        let Some(floor) = floor_of(from) else {
            continue;
        };
        for to in tos {
            if floor_of(to).is_some_and(|t| t > floor) {
                up.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(up.is_empty(), "imports that run back up a floor: {up:?}");
    // The graph is read at all: the http floor imports storage, which
    // imports catalog, which imports git.
    assert!(edges["http/router.rs"]
        .iter()
        .any(|t| t.starts_with("storage/")));
    assert!(edges["storage/gc.rs"].contains("storage/pack_cache.rs"));
    assert!(edges["catalog/snapshot.rs"]
        .iter()
        .any(|t| t.starts_with("git/")));
}

#[test]
fn no_circles_among_the_files_of_src() {
    let found = circles(&graph());
    assert!(found.is_empty(), "circles of imports: {found:?}");
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.insert("a".into(), ["b".to_string()].into());
    edges.insert("b".into(), ["c".to_string()].into());
    edges.insert("c".into(), ["a".to_string()].into());
    edges.insert("d".into(), ["a".to_string()].into());
    assert_eq!(circles(&edges), vec![vec!["a", "b", "c"]]);
}

#[test]
fn no_circles_among_the_web_uis_modules() {
    let js = root().join("www/js");
    let mut files = Vec::new();
    files_under(&js, "js", &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let dir = f.parent().unwrap();
        let mut to = BTreeSet::new();
        for line in text.lines() {
            let line = line.trim();
            if !(line.starts_with("import ")
                || line.starts_with("export ")
                || line.contains("import("))
            {
                continue;
            }
            for quote in ['\'', '"'] {
                let parts: Vec<&str> = line.split(quote).collect();
                for spec in parts.iter().skip(1).step_by(2) {
                    if spec.starts_with('.') && spec.ends_with(".js") {
                        let target = dir.join(spec);
                        let target = std::fs::canonicalize(&target).unwrap_or(target);
                        to.insert(
                            target
                                .strip_prefix(std::fs::canonicalize(&js).unwrap())
                                .unwrap_or(&target)
                                .to_string_lossy()
                                .into_owned(),
                        );
                    }
                }
            }
        }
        let from = std::fs::canonicalize(f).unwrap();
        edges.insert(
            from.strip_prefix(std::fs::canonicalize(&js).unwrap())
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            to,
        );
    }
    assert!(
        edges.values().any(|t| !t.is_empty()),
        "no import read in www/js"
    );
    let found = circles(&edges);
    assert!(found.is_empty(), "circles of imports in www/js: {found:?}");
}
