//! Store upload validation (pure): each type's shape, every type-mismatch
//! guard with its code, and hostile ZIPs.

mod support;

use marketplace_edge::catalog::store::{
    is_unambiguous_name, served_name, uploaded_files, validate_files, validate_upload, EntityType,
    STORE_LIMITS,
};
use support::archives::{tar_gz_of, zip_of, zip_with_encrypted_entry, FileSpec};

fn f(path: &str, content: &str) -> FileSpec {
    (path.to_string(), false, content.as_bytes().to_vec())
}

fn skill_zip() -> Vec<u8> {
    zip_of(&[
        f(
            "pdf-tools/SKILL.md",
            "---\nname: pdf-tools\ndescription: Works with PDFs\n---\n\nUse scripts/extract.sh.\n",
        ),
        (
            "pdf-tools/scripts/extract.sh".into(),
            true,
            b"#!/bin/sh\necho pdf\n".to_vec(),
        ),
        f("pdf-tools/reference.md", "# reference\n"),
    ])
}

fn agent_zip() -> Vec<u8> {
    zip_of(&[
        f(
            "reviewer.md",
            "---\nname: reviewer\ndescription: Reviews diffs\n---\n\nReview.\n",
        ),
        f("README.md", "# about\n"),
    ])
}

fn plugin_zip() -> Vec<u8> {
    zip_of(&[
        f(
            "my-plugin/.claude-plugin/plugin.json",
            r#"{"name":"my-plugin","version":"0.1.0"}"#,
        ),
        f(
            "my-plugin/commands/hello.md",
            "---\ndescription: hi\n---\nhi\n",
        ),
    ])
}

fn code(zip: &[u8], t: EntityType, name: &str) -> String {
    validate_upload(zip, t, name, "ann")
        .map(|_| "ok".to_string())
        .unwrap_or_else(|e| e.code().to_string())
}

#[test]
fn each_type_validates_and_is_rooted_at_the_entity() {
    let s = validate_upload(skill_zip(), EntityType::Skill, "pdf-tools", "ann").unwrap();
    assert_eq!(s.served_name, "pdf-tools-by-ann");
    let paths: Vec<&str> = s.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["SKILL.md", "scripts/extract.sh", "reference.md"]
    );
    assert!(s.files[1].exec, "exec bit kept");

    let a = validate_upload(agent_zip(), EntityType::Agent, "reviewer", "bob").unwrap();
    assert_eq!(
        (a.files.len(), a.files[0].path.as_str()),
        (1, "reviewer.md")
    );
    assert_eq!(a.warnings.len(), 1, "the README is ignored, and said so");

    let p = validate_upload(plugin_zip(), EntityType::Plugin, "my-plugin", "cy").unwrap();
    assert_eq!(p.served_name, "my-plugin-by-cy");
    assert!(p
        .files
        .iter()
        .any(|f| f.path.as_str() == ".claude-plugin/plugin.json"));
}

#[test]
fn type_mismatches_have_their_own_codes() {
    assert_eq!(
        code(&skill_zip(), EntityType::Agent, "x"),
        "type_mismatch_skill_as_agent"
    );
    assert_eq!(
        code(&agent_zip(), EntityType::Skill, "x"),
        "type_mismatch_agent_as_skill"
    );
    assert_eq!(
        code(&plugin_zip(), EntityType::Skill, "x"),
        "type_mismatch_plugin_as_skill"
    );
    assert_eq!(
        code(&plugin_zip(), EntityType::Agent, "x"),
        "type_mismatch_plugin_as_agent"
    );
    assert_eq!(
        code(&skill_zip(), EntityType::Plugin, "x"),
        "type_mismatch_skill_as_plugin"
    );
    assert_eq!(
        code(&agent_zip(), EntityType::Plugin, "x"),
        "type_mismatch_agent_as_plugin"
    );
}

#[test]
fn shape_and_name_errors() {
    assert_eq!(
        code(&skill_zip(), EntityType::Skill, "PDF_Tools"),
        "not_kebab_case"
    );
    assert_eq!(
        code(&skill_zip(), EntityType::Skill, "a--b"),
        "not_kebab_case"
    );
    let two = zip_of(&[
        f("a/SKILL.md", "---\nname: a\ndescription: d\n---\n"),
        f("b/SKILL.md", "---\nname: b\ndescription: d\n---\n"),
    ]);
    assert_eq!(code(&two, EntityType::Skill, "x"), "skill_md_count");
    let bare = zip_of(&[f("SKILL.md", "no frontmatter")]);
    assert_eq!(code(&bare, EntityType::Skill, "x"), "missing_frontmatter");
    assert_eq!(
        code(&zip_of(&[f("notes.txt", "x")]), EntityType::Agent, "x"),
        "agent_count"
    );
    assert_eq!(
        code(&zip_of(&[f("notes.txt", "x")]), EntityType::Plugin, "x"),
        "no_plugin_json"
    );
    let bad_json = zip_of(&[f(".claude-plugin/plugin.json", "{")]);
    assert_eq!(code(&bad_json, EntityType::Plugin, "x"), "bad_plugin_json");
    let bad_name = zip_of(&[f(".claude-plugin/plugin.json", r#"{"name":"Not Kebab"}"#)]);
    assert_eq!(code(&bad_name, EntityType::Plugin, "x"), "not_kebab_case");
}

#[test]
fn served_names_cannot_collide_across_owners() {
    // `a-by-b` by `c` and `a` by `b-by-c` would both be `a-by-b-by-c`.
    assert_eq!(served_name("a", "b-by-c"), "a-by-b-by-c");
    assert_eq!(
        code(&skill_zip(), EntityType::Skill, "a-by-b"),
        "ambiguous_name"
    );
    assert_eq!(
        code(&skill_zip(), EntityType::Skill, "tools-by"),
        "ambiguous_name"
    );
    for fine in ["by-tools", "abby", "by", "baby-steps", "a-byte"] {
        assert!(is_unambiguous_name(fine), "{fine}");
    }
    // Every allowed name reads back from its served name exactly.
    for (name, owner) in [
        ("a", "b-by-c"),
        ("by-x", "by"),
        ("x-b", "by-by"),
        ("abby", "y"),
    ] {
        assert!(is_unambiguous_name(name));
        let served = served_name(name, owner);
        assert_eq!(served.split_once("-by-"), Some((name, owner)), "{served}");
    }
}

#[test]
fn hostile_zips_are_refused() {
    let skill = "---\nname: s\ndescription: d\n---\n";
    let raw = |p: &[u8]| (p.to_vec(), false, skill.as_bytes().to_vec());
    assert_eq!(
        code(&tar_gz_of(&[raw(b"../SKILL.md")]), EntityType::Skill, "s"),
        "bad_path"
    );
    assert_eq!(
        code(&tar_gz_of(&[raw(b"/abs/SKILL.md")]), EntityType::Skill, "s"),
        "bad_path"
    );
    assert_eq!(
        code(&zip_of(&[f("a\\SKILL.md", skill)]), EntityType::Skill, "s"),
        "bad_path"
    );
    assert_eq!(
        code(
            &tar_gz_of(&[raw(b"SKILL.md"), raw(b"SKILL.md")]),
            EntityType::Skill,
            "s"
        ),
        "duplicate_path"
    );
    assert_eq!(
        code(
            &tar_gz_of(&[raw(b"SKILL.md"), raw(b"\xfe.md")]),
            EntityType::Skill,
            "s"
        ),
        "non_utf8_name"
    );
    assert_eq!(
        code(
            &zip_with_encrypted_entry(&[f("SKILL.md", skill)]),
            EntityType::Skill,
            "s"
        ),
        "encrypted_entry"
    );
    let many: Vec<FileSpec> = std::iter::once(f("SKILL.md", skill))
        .chain((0..STORE_LIMITS.max_files).map(|i| f(&format!("f{i}"), "x")))
        .collect();
    assert_eq!(
        code(&zip_of(&many), EntityType::Skill, "s"),
        "too_many_files"
    );
    let bomb = zip_of(&[
        f("SKILL.md", skill),
        ("big".into(), false, vec![0; 4 << 20]),
    ]);
    assert_eq!(code(&bomb, EntityType::Skill, "s"), "compression_bomb");
    let big: Vec<FileSpec> = std::iter::once(f("SKILL.md", skill))
        .chain((0..5).map(|i| {
            (
                format!("b{i}"),
                false,
                (0..(4 << 20))
                    .map(|j: u32| (j.wrapping_mul(2654435761) >> 13) as u8)
                    .collect(),
            )
        }))
        .collect();
    assert_eq!(
        code(&zip_of(&big), EntityType::Skill, "s"),
        "too_many_bytes"
    );
    let symlinked =
        support::archives::tar_gz_with_symlink(&[f("SKILL.md", skill)], "link", "/etc/passwd");
    assert_eq!(code(&symlinked, EntityType::Skill, "s"), "symlink");
}

#[test]
fn a_skill_package_and_a_lone_markdown_file_upload() {
    let skill_md = "---\nname: tips\ndescription: Tips\n---\nUse it.\n";
    // A `.skill` package is a ZIP under another name.
    let package = zip_of(&[f("tips/SKILL.md", skill_md), f("tips/ref.md", "x")]);
    let files = uploaded_files(package, "tips.skill").unwrap();
    let v = validate_files(files, EntityType::Skill, "tips", "ann").unwrap();
    assert_eq!(v.files.len(), 2);
    // A lone SKILL.md (any case) is a skill of one file.
    let files = uploaded_files(skill_md.as_bytes().to_vec(), "skill.md").unwrap();
    assert_eq!(files[0].path.as_str(), "SKILL.md");
    let v = validate_files(files, EntityType::Skill, "tips", "ann").unwrap();
    assert_eq!(v.files[0].path.as_str(), "SKILL.md");
    // A lone agent file keeps its name.
    let agent = "---\nname: rev\ndescription: Reviews\n---\nReview.\n";
    let files = uploaded_files(agent.as_bytes().to_vec(), "C:\\x\\rev.md").unwrap();
    assert_eq!(files[0].path.as_str(), "rev.md");
    assert!(validate_files(files, EntityType::Agent, "rev", "ann").is_ok());
    // Near misses: a Markdown file past the per-file limit, and a
    // `.skill` that is not a ZIP.
    let big = vec![b'a'; STORE_LIMITS.max_file_bytes + 1];
    assert_eq!(
        uploaded_files(big, "SKILL.md").unwrap_err().code(),
        "file_too_large"
    );
    assert_eq!(
        uploaded_files(skill_md.as_bytes().to_vec(), "tips.skill")
            .unwrap_err()
            .code(),
        "archive_format"
    );
}
