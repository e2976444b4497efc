//! Store uploads from tests: ZIPs of each type and multipart requests.

use super::archives::{zip_of, FileSpec};
use super::http_client::{request, RawResponse};

fn f(path: &str, content: &str) -> FileSpec {
    (path.to_string(), false, content.as_bytes().to_vec())
}

/// A skill ZIP (one top folder, SKILL.md, an executable script).
pub fn skill_zip(name: &str) -> Vec<u8> {
    skill_zip_with(name, &format!("Body of {name}."))
}

/// A skill ZIP whose SKILL.md body is `body`.
pub fn skill_zip_with(name: &str, body: &str) -> Vec<u8> {
    zip_of(&[
        f(
            &format!("{name}/SKILL.md"),
            &format!("---\nname: {name}\ndescription: The {name} skill\n---\n\n{body}\n"),
        ),
        (
            format!("{name}/scripts/run.sh"),
            true,
            b"#!/bin/sh\necho run\n".to_vec(),
        ),
    ])
}

/// An agent ZIP (one markdown file).
pub fn agent_zip(name: &str) -> Vec<u8> {
    zip_of(&[f(
        &format!("{name}.md"),
        &format!("---\nname: {name}\ndescription: The {name} agent\n---\n\nAgent {name}.\n"),
    )])
}

/// A plugin ZIP (plugin.json at the root and a command).
pub fn plugin_zip(name: &str) -> Vec<u8> {
    zip_of(&[
        f(
            ".claude-plugin/plugin.json",
            &format!("{{\"name\":\"{name}\",\"version\":\"1.0.0\"}}"),
        ),
        f("commands/go.md", "---\ndescription: go\n---\ngo\n"),
    ])
}

/// A multipart/form-data body: text fields, then `zip` as `file`.
pub fn multipart(fields: &[(&str, &str)], zip: &[u8]) -> (String, Vec<u8>) {
    multipart_named(fields, "upload.zip", zip)
}

/// A multipart/form-data body: text fields, then `bytes` as `file`, under
/// the file name `file_name`.
pub fn multipart_named(
    fields: &[(&str, &str)],
    file_name: &str,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    let zip = bytes;
    let ctype = if file_name.ends_with(".md") {
        "text/markdown"
    } else {
        "application/zip"
    };
    let boundary = "----marketplace-edge-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .into_bytes(),
        );
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {ctype}\r\n\r\n").into_bytes());
    body.extend_from_slice(zip);
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Sends a multipart Store request (`method` POST for uploads, PUT for versions).
pub fn send(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    fields: &[(&str, &str)],
    zip: &[u8],
) -> RawResponse {
    let (ctype, body) = multipart(fields, zip);
    let auth = format!("Bearer {token}");
    request(
        base,
        method,
        path,
        &[("Authorization", &auth), ("Content-Type", &ctype)],
        &body,
    )
}

/// Uploads (or previews, by `path`) an entity with complete metadata.
pub fn upload(
    base: &str,
    token: &str,
    path: &str,
    kind: &str,
    name: &str,
    zip: &[u8],
) -> RawResponse {
    let fields = [
        ("type", kind),
        ("name", name),
        ("title", "A title"),
        ("tagline", "A tagline"),
        ("description", "A longer description"),
        ("category", "testing"),
    ];
    send(base, token, "POST", path, &fields, zip)
}

/// Publishes an entity with complete metadata; its id (the upload must
/// answer 201).
pub fn published(base: &str, token: &str, kind: &str, name: &str, zip: &[u8]) -> i64 {
    created_id(&upload(base, token, "/api/store/entities", kind, name, zip))
}

/// The id of a 201 upload response.
pub fn created_id(r: &RawResponse) -> i64 {
    assert_eq!(r.status, 201, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["entity"]["id"].as_i64().unwrap()
}
