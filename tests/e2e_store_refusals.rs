//! Refused Store uploads store nothing: no catalog row and no R2 object.
//! A test binary of its own, so its Worker's R2 sees no other writes and the
//! object count is exact.

mod support;

use serde_json::Value;
use support::api::Api;
use support::archives::{tar_gz_of, tar_gz_with_symlink, zip_of, zip_with_encrypted_entry};
use support::store::{agent_zip, plugin_zip, published, skill_zip, upload};
use support::wrangler::wrangler;

#[test]
fn every_refused_upload_leaves_no_row_and_no_r2_object() {
    let w = wrangler();
    let api = Api::new(&w.base);
    let owner = api.user_with_token("rf-owner");
    let skill_md = "---\nname: s\ndescription: d\n---\n";
    let raw = |p: &[u8]| (p.to_vec(), false, skill_md.as_bytes().to_vec());
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("agent", "s", skill_zip("s"), "type_mismatch_skill_as_agent"),
        ("skill", "a", agent_zip("a"), "type_mismatch_agent_as_skill"),
        (
            "skill",
            "p",
            plugin_zip("p"),
            "type_mismatch_plugin_as_skill",
        ),
        (
            "agent",
            "p",
            plugin_zip("p"),
            "type_mismatch_plugin_as_agent",
        ),
        (
            "plugin",
            "s",
            skill_zip("s"),
            "type_mismatch_skill_as_plugin",
        ),
        (
            "plugin",
            "a",
            agent_zip("a"),
            "type_mismatch_agent_as_plugin",
        ),
        ("skill", "s", tar_gz_of(&[raw(b"../SKILL.md")]), "bad_path"),
        ("skill", "s", tar_gz_of(&[raw(b"/SKILL.md")]), "bad_path"),
        (
            "skill",
            "s",
            zip_of(&[("x\\SKILL.md".into(), false, skill_md.as_bytes().to_vec())]),
            "bad_path",
        ),
        (
            "skill",
            "s",
            tar_gz_with_symlink(
                &[("SKILL.md".into(), false, skill_md.as_bytes().to_vec())],
                "l",
                "/etc",
            ),
            "symlink",
        ),
        (
            "skill",
            "s",
            tar_gz_of(&[raw(b"SKILL.md"), raw(b"SKILL.md")]),
            "duplicate_path",
        ),
        (
            "skill",
            "s",
            tar_gz_of(&[raw(b"SKILL.md"), raw(b"\xff")]),
            "non_utf8_name",
        ),
        (
            "skill",
            "s",
            zip_with_encrypted_entry(&[("SKILL.md".into(), false, skill_md.as_bytes().to_vec())]),
            "encrypted_entry",
        ),
        (
            "skill",
            "s",
            zip_of(&[
                ("SKILL.md".into(), false, skill_md.as_bytes().to_vec()),
                ("z".into(), false, vec![0; 4 << 20]),
            ]),
            "compression_bomb",
        ),
        (
            "skill",
            "s",
            zip_of(
                &(0..1001)
                    .map(|i| (format!("f{i}"), false, b"x".to_vec()))
                    .collect::<Vec<_>>(),
            ),
            "too_many_files",
        ),
        ("skill", "Bad Name", skill_zip("s"), "not_kebab_case"),
    ];
    let before = w.r2_object_count();
    for (kind, name, zip, code) in &cases {
        let r = upload(&w.base, &owner, "/api/store/entities", kind, name, zip);
        assert_eq!(r.status, 422, "{code}: {}", r.text());
        let err: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(err["error"]["code"], *code, "{}", r.text());
    }
    let listing: Value = serde_json::from_slice(
        &api.call(&owner, "GET", "/api/store/entities?owner=rf-owner", None)
            .body,
    )
    .unwrap();
    assert_eq!(listing["total"], 0, "no catalog row");
    assert_eq!(w.r2_object_count(), before, "no R2 object");
    // The count does see writes: a valid upload adds its entries object.
    published(&w.base, &owner, "skill", "s", &skill_zip("s"));
    assert_eq!(
        w.r2_object_count(),
        before + 1,
        "a stored upload is one R2 object"
    );
}
