//! Protocol v2: the capability advertisement and the `ls-refs` and `fetch`
//! commands (gitprotocol-v2). A request is `command=<name>`, capability
//! lines, an optional delim and arguments, and a flush.

use super::exchange::{
    show, write_shallow_lines, FetchArgs, Framing, Outcome, PackResponse, Refusal, Response, Server,
};
use crate::git::negotiate::ok_to_give_up;
use crate::git::oid::ObjectId;
use crate::git::pktline::{self, Packet, PktReader};
use crate::git::repo::Repository;
use crate::git::sideband::MAX_PAYLOAD_64K;

/// The `info/refs?service=git-upload-pack` body for v2 clients. Like git's
/// http-backend, v2 omits the `# service=` preamble.
pub fn advertise_v2(server: &Server<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    for line in [
        "version 2",
        &format!("agent={}", server.agent),
        "ls-refs=unborn",
        "fetch=shallow",
        "object-format=sha1",
    ] {
        pktline::write_line(&mut out, line);
    }
    pktline::write_flush(&mut out);
    out
}

/// A parsed v2 request.
struct Request<'a> {
    command: &'a [u8],
    args: Vec<&'a [u8]>,
}

fn read_request<'a>(body: &'a [u8]) -> Result<Option<Request<'a>>, Outcome> {
    let mut r = PktReader::new(body);
    let command = match r.next_packet()? {
        None | Some(Packet::Flush) => return Ok(None),
        Some(p @ Packet::Data(_)) => p.text().unwrap_or_default(),
        Some(_) => return Err(Refusal::new("protocol error: expected a command").into()),
    };
    let command = command.strip_prefix(b"command=").ok_or_else(|| {
        Refusal::new(format!(
            "protocol error: expected 'command=<name>', got '{}'",
            show(command)
        ))
    })?;
    // Capability lines, up to a delim (arguments follow) or a flush (none).
    let mut has_args = false;
    loop {
        match r.next_packet()? {
            Some(Packet::Delim) => {
                has_args = true;
                break;
            }
            Some(Packet::Flush) => break,
            Some(p @ Packet::Data(_)) => check_capability(p.text().unwrap_or_default())?,
            Some(Packet::ResponseEnd) | None => {
                return Err(Refusal::new("protocol error: request ends before its flush").into())
            }
        }
    }
    let mut args = Vec::new();
    if has_args {
        loop {
            match r.next_packet()? {
                Some(Packet::Flush) => break,
                Some(p @ Packet::Data(_)) => args.push(p.text().unwrap_or_default()),
                Some(_) | None => {
                    return Err(
                        Refusal::new("protocol error: arguments must end with a flush").into(),
                    )
                }
            }
        }
    }
    if !r.is_empty() {
        return Err(Refusal::new("protocol error: data after the request's flush").into());
    }
    Ok(Some(Request { command, args }))
}

fn check_capability(cap: &[u8]) -> Result<(), Refusal> {
    let known = cap.starts_with(b"agent=")
        || cap.starts_with(b"session-id=")
        || cap == b"object-format=sha1";
    if known {
        Ok(())
    } else if cap.starts_with(b"object-format=") {
        Err(Refusal::new(format!(
            "unsupported object format '{}'; this server speaks sha1",
            show(&cap[14..])
        )))
    } else {
        Err(Refusal::new(format!("unknown capability '{}'", show(cap))))
    }
}

/// Answers one v2 POST body.
pub(super) fn serve(
    body: &[u8],
    repo: &impl Repository,
    _server: &Server<'_>,
) -> Result<Response, Outcome> {
    let Some(req) = read_request(body)? else {
        return Ok(Response::Bytes(Vec::new()));
    };
    match req.command {
        b"ls-refs" => ls_refs(&req.args, repo),
        b"fetch" => fetch(&req.args, repo),
        other => Err(Refusal::new(format!("unknown command '{}'", show(other))).into()),
    }
}

fn ls_refs(args: &[&[u8]], repo: &impl Repository) -> Result<Response, Outcome> {
    let (mut symrefs, mut unborn) = (false, false);
    let mut prefixes: Vec<&[u8]> = Vec::new();
    for arg in args {
        match *arg {
            b"symrefs" => symrefs = true,
            b"peel" => {} // we serve no tags, so nothing is ever peeled
            b"unborn" => unborn = true,
            a => match a.strip_prefix(b"ref-prefix ") {
                Some(p) => prefixes.push(p),
                None => {
                    return Err(
                        Refusal::new(format!("ls-refs: unexpected argument '{}'", show(a))).into(),
                    )
                }
            },
        }
    }
    let wanted =
        |name: &str| prefixes.is_empty() || prefixes.iter().any(|p| name.as_bytes().starts_with(p));
    let refs = repo.refs();
    let mut out = Vec::new();
    if wanted("HEAD") {
        let target = refs
            .head_target
            .as_deref()
            .filter(|_| symrefs)
            .map(|t| format!(" symref-target:{t}"))
            .unwrap_or_default();
        match refs.head() {
            Some(id) => pktline::write_line(&mut out, &format!("{id} HEAD{target}")),
            None if unborn && refs.head_target.is_some() => {
                pktline::write_line(&mut out, &format!("unborn HEAD{target}"))
            }
            None => {}
        }
    }
    for (name, id) in &refs.refs {
        if wanted(name) {
            pktline::write_line(&mut out, &format!("{id} {name}"));
        }
    }
    pktline::write_flush(&mut out);
    Ok(Response::Bytes(out))
}

fn fetch(args: &[&[u8]], repo: &impl Repository) -> Result<Response, Outcome> {
    let mut fa = FetchArgs::default();
    let (mut done, mut progress) = (false, true);
    for arg in args {
        if fa.take(arg, repo)? {
            continue;
        }
        if let Some(a) = arg.strip_prefix(b"have ") {
            fa.push_have(a)?;
            continue;
        }
        match *arg {
            b"done" => done = true,
            b"no-progress" => progress = false,
            // Accepted and meaningless here: we send no deltas and no tags.
            b"thin-pack" | b"ofs-delta" | b"include-tag" => {}
            other => {
                return Err(
                    Refusal::new(format!("fetch: unexpected argument '{}'", show(other))).into(),
                )
            }
        }
    }
    let wants = fa.wants.clone();
    if wants.is_empty() {
        return Err(Refusal::new("fetch: no 'want' lines in the request").into());
    }

    let common: Vec<ObjectId> = {
        let mut c: Vec<ObjectId> = Vec::new();
        for h in &fa.haves {
            if repo.commit_parents(h).is_some() && !c.contains(h) {
                c.push(*h);
            }
        }
        c
    };
    let mut out = Vec::new();
    if !done {
        pktline::write_line(&mut out, "acknowledgments");
        if common.is_empty() {
            pktline::write_line(&mut out, "NAK");
        }
        for id in &common {
            pktline::write_line(&mut out, &format!("ACK {id}"));
        }
        if !ok_to_give_up(repo, &wants, &common) {
            pktline::write_flush(&mut out);
            return Ok(Response::Bytes(out));
        }
        pktline::write_line(&mut out, "ready");
        pktline::write_delim(&mut out);
    }
    let plan = fa.plan(repo, &common);
    if fa.sends_shallow_info() {
        pktline::write_line(&mut out, "shallow-info");
        write_shallow_lines(&mut out, &plan);
        pktline::write_delim(&mut out);
    }
    pktline::write_line(&mut out, "packfile");
    Ok(Response::Pack(PackResponse {
        head: out,
        objects: plan.objects,
        framing: Framing::SideBand {
            max_payload: MAX_PAYLOAD_64K,
            progress,
        },
    }))
}
