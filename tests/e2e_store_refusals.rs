//! Refused Store uploads store nothing: no catalog row and no R2 object.
//! A test binary of its own, so its Worker's R2 sees no other writes and the
//! object count is exact.

mod support;

use serde_json::Value;
use support::api::Api;
use support::archives::{tar_gz_of, tar_gz_with_symlink, zip_of, zip_with_encrypted_entry};
use support::store::{agent_zip, plugin_zip, published, skill_zip, upload};
use support::wrangler::{wrangler, wrangler_with};

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

/// An owner holds at most 200 Store entries, even when two uploads race
/// for the last place: the one that passed the early check but commits
/// second is refused by its commit and stores no row (its entries object
/// is left to GC, which collects it); a 201st upload is refused before it
/// writes anything; deleting one makes room.
#[test]
fn an_owner_holds_at_most_200_entries_even_when_two_uploads_race() {
    let w = wrangler_with(&[
        ("FAILPOINT_PAUSE", "store-commit:late"),
        ("FAILPOINT_PAUSE_SECONDS", "4"),
    ]);
    let api = Api::new(&w.base);
    let owner = api.user_with_token("many-owner");
    let mut ids = Vec::new();
    for i in 0..199 {
        let name = format!("s{i}");
        ids.push(published(
            &w.base,
            &owner,
            "skill",
            &name,
            &skill_zip(&name),
        ));
    }
    let total = || {
        let listing: Value = serde_json::from_slice(
            &api.call(&owner, "GET", "/api/store/entities?owner=many-owner", None)
                .body,
        )
        .unwrap();
        listing["total"].as_i64().unwrap()
    };
    assert_eq!(total(), 199);

    // `late` passes the early check at 199 and pauses before its commit,
    // while another upload takes the 200th place.
    let (base, tok) = (w.base.clone(), owner.clone());
    let late = std::thread::spawn(move || {
        upload(
            &base,
            &tok,
            "/api/store/entities",
            "skill",
            "late",
            &skill_zip("late"),
        )
    });
    w.wait_for_pause("store-commit:late");
    published(&w.base, &owner, "skill", "first", &skill_zip("first"));
    let refused = late.join().unwrap();
    assert_eq!(refused.status, 409, "{}", refused.text());
    let err: Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(
        err["error"]["code"],
        "too_many_entities",
        "{}",
        refused.text()
    );
    assert_eq!(total(), 200, "the late upload stored no row");
    let collected = api.admin(
        "POST",
        "/api/admin/gc",
        Some(&serde_json::json!({"min_age_seconds": 0})),
        200,
    );
    assert_eq!(collected["deleted"], 1, "its entries object: {collected}");

    // Past the limit, refused before anything reaches R2.
    let objects = w.r2_object_count();
    let r = upload(
        &w.base,
        &owner,
        "/api/store/entities",
        "skill",
        "extra",
        &skill_zip("extra"),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("too_many_entities"), "{}", r.text());
    assert_eq!((total(), w.r2_object_count()), (200, objects));

    // Deleting one makes room.
    let gone = api.call(
        &owner,
        "DELETE",
        &format!("/api/store/entities/{}", ids[0]),
        None,
    );
    assert_eq!(gone.status, 204, "{}", gone.text());
    published(&w.base, &owner, "skill", "extra", &skill_zip("extra"));
    assert_eq!(total(), 200);
}
