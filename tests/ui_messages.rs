//! Every machine code the Worker can answer with has a human sentence in
//! the web UI's one table (`www/js/messages.js`), so the UI never shows a
//! bare code. The codes are read from the source: `ApiError` constructors
//! with a literal code, and the `=> "code"` arms of each layer's error
//! mapping (`fn code`, and `http/error.rs`).

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The snake_case string literal starting right after `at`, if any.
fn literal_at(text: &str, at: usize) -> Option<&str> {
    let rest = text[at..].trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    let lit = &rest[..end];
    (!lit.is_empty()
        && lit
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
    .then_some(lit)
}

fn codes_in(text: &str, with_arms: bool) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    // `new(403, "code"` and `bad_request("code"`.
    for (i, _) in text.match_indices("new(") {
        let after = &text[i + 4..];
        let digits = after.trim_start();
        if digits.len() > 3 && digits.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
            let comma = i + 4 + (after.len() - digits.len()) + 3;
            if text[comma..].trim_start().starts_with(',') {
                let at = comma + text[comma..].find(',').unwrap() + 1;
                codes.extend(literal_at(text, at).map(str::to_owned));
            }
        }
    }
    for (i, m) in text.match_indices("bad_request(") {
        codes.extend(literal_at(text, i + m.len()).map(str::to_owned));
    }
    if with_arms {
        for (i, m) in text.match_indices("=>") {
            codes.extend(literal_at(text, i + m.len()).map(str::to_owned));
        }
    }
    codes
}

#[test]
fn every_api_code_has_a_sentence_in_the_ui() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/http"), &mut files);
    let mut codes = BTreeSet::new();
    for f in &files {
        let text = read(f);
        codes.extend(codes_in(&text, f.ends_with("error.rs")));
    }
    for f in [
        "src/catalog/archive/mod.rs",
        "src/catalog/store.rs",
        "src/catalog/marketplace.rs",
        "src/catalog/upstream.rs",
    ] {
        let text = read(&root.join(f));
        let start = text
            .find("fn code(")
            .unwrap_or_else(|| panic!("{f} has no fn code"));
        let end = start + text[start..].find("\n    }\n").unwrap();
        codes.extend(codes_in(&text[start..end], true));
    }
    // The scan must see the codes we know are there, or it proves nothing.
    for known in [
        "cross_site_request",
        "type_mismatch_skill_as_agent",
        "compression_bomb",
        "bad_slug",
        "no_manifest",
        "not_found",
        "access_no_user",
    ] {
        assert!(
            codes.contains(known),
            "the scan missed `{known}`: {codes:?}"
        );
    }
    assert!(
        codes.len() > 60,
        "only {} codes found: {codes:?}",
        codes.len()
    );
    let table = read(&root.join("www/js/messages.js"));
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !table.contains(&format!("\n  {c}: ")))
        .collect();
    assert!(
        missing.is_empty(),
        "codes with no sentence in www/js/messages.js: {missing:?}"
    );
}
