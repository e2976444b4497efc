//! Malformed and hostile requests against the native server: each gets its
//! error, and the server keeps serving. Plus a property test that no request
//! body makes upload-pack panic.

mod support;

use marketplace_edge::git::repo::Repository;
use marketplace_edge::git::smart_http::{handle, GitRequest};
use marketplace_edge::git::upload_pack::{serve as upload_pack, ProtocolVersion, Server};
use proptest::prelude::*;
use support::checks::check_hostile;
use support::demo::demo_repo;
use support::http_server::serve;

#[test]
fn hostile_requests_are_refused_and_server_survives() {
    let repo = demo_repo();
    let head = repo.refs().head().unwrap().to_hex();
    let server = serve(repo);
    check_hostile(&server.base, "/repo.git", &head, None);
}

/// Cases per property: `FUZZ_CASES`, else 2,000 (see `fuzz_native.rs`).
fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2000)
}

fn pkt(s: &str) -> Vec<u8> {
    let mut v = format!("{:04x}", s.len() + 4).into_bytes();
    v.extend_from_slice(s.as_bytes());
    v
}

/// Plausible request fragments, so the fuzzer reaches deep into the parser.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    let head = demo_repo().refs().head().unwrap().to_hex();
    prop_oneof![
        Just(b"0000".to_vec()),
        Just(b"0001".to_vec()),
        Just(b"0002".to_vec()),
        Just(pkt("command=fetch\n")),
        Just(pkt("command=ls-refs\n")),
        Just(pkt(&format!(
            "want {head} multi_ack_detailed side-band-64k\n"
        ))),
        Just(pkt(&format!("want {head}\n"))),
        Just(pkt(&format!("have {head}\n"))),
        Just(pkt(&format!("shallow {head}\n"))),
        Just(pkt("deepen 1\n")),
        Just(pkt("done\n")),
        Just(pkt("symrefs\n")),
        Just(pkt("ref-prefix refs/heads/\n")),
        Just(pkt("agent=fuzz\n")),
        prop::collection::vec(any::<u8>(), 0..12),
        "[0-9a-f]{4}".prop_map(|s| s.into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// No body, in either protocol, panics; responses are well-formed.
    #[test]
    fn upload_pack_never_panics(parts in prop::collection::vec(fragment(), 0..10), v2 in any::<bool>()) {
        let body: Vec<u8> = parts.concat();
        let repo = demo_repo();
        let version = if v2 { ProtocolVersion::V2 } else { ProtocolVersion::V0 };
        let _ = upload_pack(version, &body, &repo, &Server { agent: "fuzz" });
        let req = GitRequest {
            method: "POST",
            path: "/git-upload-pack",
            query: None,
            git_protocol: v2.then_some("version=2"),
            content_type: Some("application/x-git-upload-pack-request"),
            content_encoding: None,
            body: &body,
        };
        let resp = handle(&req, &repo, &Server { agent: "fuzz" });
        prop_assert!(resp.status == 200 || resp.status == 400, "status {}", resp.status);
    }

    /// Arbitrary bytes never panic the parser either.
    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..300), v2 in any::<bool>()) {
        let repo = demo_repo();
        let version = if v2 { ProtocolVersion::V2 } else { ProtocolVersion::V0 };
        let _ = upload_pack(version, &body, &repo, &Server { agent: "fuzz" });
    }
}
