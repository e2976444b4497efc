//! Markdown frontmatter: the `---`-fenced `key: value` header of skills and
//! agents. Only flat scalar keys are read (quoted or bare), and lists of
//! scalars (`frontmatter_list`: `a, b`, `[a, b]` or `- a` lines, as agents'
//! `tools` and skills' `allowed-tools` are written); other nested YAML is
//! skipped.

use std::collections::BTreeMap;

/// The scalar keys of a document's frontmatter, or `None` if it has none.
pub fn parse_frontmatter(doc: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for line in fenced(doc)? {
        if line.starts_with([' ', '\t', '#', '-']) || line.is_empty() {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim();
            let unquoted = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            out.insert(k.trim().to_string(), unquoted.to_string());
        }
    }
    Some(out)
}

/// The lines between a document's fences, or `None` if it has none.
fn fenced(doc: &str) -> Option<Vec<&str>> {
    let doc = doc.strip_prefix('\u{feff}').unwrap_or(doc);
    let rest = doc
        .strip_prefix("---\n")
        .or_else(|| doc.strip_prefix("---\r\n"))?;
    let mut lines = Vec::new();
    for line in rest.lines() {
        let line = line.trim_end_matches('\r');
        if line == "---" {
            return Some(lines);
        }
        lines.push(line);
    }
    None
}

/// The list under `key`: `key: a, b`, `key: [a, b]` or `key:` followed by
/// `- a` lines; `None` when the key is absent (or there is no frontmatter).
pub fn frontmatter_list(doc: &str, key: &str) -> Option<Vec<String>> {
    let lines = fenced(doc)?;
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
    let at = lines.iter().position(|l| {
        l.split_once(':')
            .is_some_and(|(k, _)| k.trim() == key && !l.starts_with([' ', '\t']))
    })?;
    let value = lines[at]
        .split_once(':')
        .map(|(_, v)| v.trim())
        .unwrap_or("");
    let items: Vec<String> = if value.is_empty() {
        lines[at + 1..]
            .iter()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with('-'))
            .map(|l| unquote(&l[1..]))
            .collect()
    } else {
        value
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(unquote)
            .collect()
    };
    Some(items.into_iter().filter(|s| !s.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scalars_and_needs_both_fences() {
        let fm = parse_frontmatter(
            "---\nname: my-skill\ndescription: \"Does: things\"\nmeta:\n  nested: x\n---\nbody",
        )
        .unwrap();
        assert_eq!(fm["name"], "my-skill");
        assert_eq!(fm["description"], "Does: things");
        assert!(!fm.contains_key("nested"));
        assert_eq!(parse_frontmatter("no fence"), None);
        assert_eq!(parse_frontmatter("---\nname: x\n"), None);
        assert!(parse_frontmatter("---\r\nname: x\r\n---\r\n")
            .unwrap()
            .contains_key("name"));
    }

    #[test]
    fn lists_in_each_form() {
        let doc = "---\nname: a\ntools: Read, Bash(git:*)\nallowed-tools: [\"Read\", 'Grep']\nhooks:\n  - x\nperms:\n  - Edit\n  - Write\n---\n";
        assert_eq!(
            frontmatter_list(doc, "tools").unwrap(),
            ["Read", "Bash(git:*)"]
        );
        assert_eq!(
            frontmatter_list(doc, "allowed-tools").unwrap(),
            ["Read", "Grep"]
        );
        assert_eq!(frontmatter_list(doc, "perms").unwrap(), ["Edit", "Write"]);
        assert_eq!(frontmatter_list(doc, "missing"), None);
        assert_eq!(frontmatter_list("no fence", "tools"), None);
    }
}
