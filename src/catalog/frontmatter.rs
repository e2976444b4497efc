//! Markdown frontmatter: the `---`-fenced `key: value` header of skills and
//! agents. Only flat scalar keys are read (quoted or bare); nested YAML is
//! skipped, which is all Claude Code needs from `name` and `description`.

use std::collections::BTreeMap;

/// The scalar keys of a document's frontmatter, or `None` if it has none.
pub fn parse_frontmatter(doc: &str) -> Option<BTreeMap<String, String>> {
    let doc = doc.strip_prefix('\u{feff}').unwrap_or(doc);
    let rest = doc
        .strip_prefix("---\n")
        .or_else(|| doc.strip_prefix("---\r\n"))?;
    let mut out = BTreeMap::new();
    for line in rest.lines() {
        let line = line.trim_end_matches('\r');
        if line == "---" {
            return Some(out);
        }
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
    None // no closing fence
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
}
