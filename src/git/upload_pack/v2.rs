//! Protocol v2: the capability advertisement and the `ls-refs` and `fetch`
//! commands (gitprotocol-v2). A request is `command=<name>`, capability
//! lines, an optional delim and arguments, and a flush.

use super::{check_want, parse_depth, parse_id_arg, show, write_shallow_lines, Framing, Outcome, PackResponse, Refusal, Response, Server, MAX_HAVES, MAX_SHALLOWS, MAX_WANTS};
use crate::git::negotiate::{ok_to_give_up, plan_fetch, FetchScope};
use crate::git::oid::ObjectId;
use crate::git::pktline::{self, Packet, PktReader};
use crate::git::repo::Repository;
use crate::git::sideband::MAX_PAYLOAD_64K;

/// The `info/refs?service=git-upload-pack` body for v2 clients. Like git's
/// http-backend, v2 omits the `# service=` preamble.
pub fn advertise_v2(server: &Server<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    for line in ["version 2", &format!("agent={}", server.agent), "ls-refs=unborn", "fetch=shallow", "object-format=sha1"] {
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
    let command = command
        .strip_prefix(b"command=")
        .ok_or_else(|| Refusal::new(format!("protocol error: expected 'command=<name>', got '{}'", show(command))))?;
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
            Some(Packet::ResponseEnd) | None => return Err(Refusal::new("protocol error: request ends before its flush").into()),
        }
    }
    let mut args = Vec::new();
    if has_args {
        loop {
            match r.next_packet()? {
                Some(Packet::Flush) => break,
                Some(p @ Packet::Data(_)) => args.push(p.text().unwrap_or_default()),
                Some(_) | None => return Err(Refusal::new("protocol error: arguments must end with a flush").into()),
            }
        }
    }
    if !r.is_empty() {
        return Err(Refusal::new("protocol error: data after the request's flush").into());
    }
    Ok(Some(Request { command, args }))
}

fn check_capability(cap: &[u8]) -> Result<(), Refusal> {
    let known = cap.starts_with(b"agent=") || cap.starts_with(b"session-id=") || cap == b"object-format=sha1";
    if known {
        Ok(())
    } else if cap.starts_with(b"object-format=") {
        Err(Refusal::new(format!("unsupported object format '{}'; this server speaks sha1", show(&cap[14..]))))
    } else {
        Err(Refusal::new(format!("unknown capability '{}'", show(cap))))
    }
}

/// Answers one v2 POST body.
pub(super) fn serve(body: &[u8], repo: &impl Repository, _server: &Server<'_>) -> Result<Response, Outcome> {
    let Some(req) = read_request(body)? else { return Ok(Response::Bytes(Vec::new())) };
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
                None => return Err(Refusal::new(format!("ls-refs: unexpected argument '{}'", show(a))).into()),
            },
        }
    }
    let wanted = |name: &str| prefixes.is_empty() || prefixes.iter().any(|p| name.as_bytes().starts_with(p));
    let refs = repo.refs();
    let mut out = Vec::new();
    if wanted("HEAD") {
        let target = refs.head_target.as_deref().filter(|_| symrefs).map(|t| format!(" symref-target:{t}")).unwrap_or_default();
        match refs.head() {
            Some(id) => pktline::write_line(&mut out, &format!("{id} HEAD{target}")),
            None if unborn && refs.head_target.is_some() => pktline::write_line(&mut out, &format!("unborn HEAD{target}")),
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
    let mut wants: Vec<ObjectId> = Vec::new();
    let mut haves: Vec<ObjectId> = Vec::new();
    let mut shallows: Vec<ObjectId> = Vec::new();
    let (mut done, mut progress, mut depth) = (false, true, None);
    for arg in args {
        if let Some(a) = arg.strip_prefix(b"want ") {
            let id = parse_id_arg(a, "wanted")?;
            check_want(repo, &id)?;
            if wants.len() == MAX_WANTS {
                return Err(Refusal::new(format!("upload-pack: more than {MAX_WANTS} wants")).into());
            }
            if !wants.contains(&id) {
                wants.push(id);
            }
        } else if let Some(a) = arg.strip_prefix(b"have ") {
            if haves.len() == MAX_HAVES {
                return Err(Refusal::new(format!("upload-pack: more than {MAX_HAVES} haves")).into());
            }
            haves.push(parse_id_arg(a, "have")?);
        } else if let Some(a) = arg.strip_prefix(b"shallow ") {
            if shallows.len() == MAX_SHALLOWS {
                return Err(Refusal::new(format!("upload-pack: more than {MAX_SHALLOWS} shallow lines")).into());
            }
            shallows.push(parse_id_arg(a, "shallow")?);
        } else if let Some(a) = arg.strip_prefix(b"deepen ") {
            depth = Some(parse_depth(a)?);
        } else {
            match *arg {
                b"done" => done = true,
                b"no-progress" => progress = false,
                // Accepted and meaningless here: we send no deltas and no tags.
                b"thin-pack" | b"ofs-delta" | b"include-tag" => {}
                other => {
                    let shown = show(other);
                    let msg = if [&b"deepen-relative"[..], b"deepen-since", b"deepen-not"].iter().any(|p| other.starts_with(p)) {
                        format!("fetch: '{shown}' is not supported by this server")
                    } else {
                        format!("fetch: unexpected argument '{shown}'")
                    };
                    return Err(Refusal::new(msg).into());
                }
            }
        }
    }
    if wants.is_empty() {
        return Err(Refusal::new("fetch: no 'want' lines in the request").into());
    }

    let common: Vec<ObjectId> = {
        let mut c: Vec<ObjectId> = Vec::new();
        for h in &haves {
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
    let plan = plan_fetch(repo, &FetchScope { wants: &wants, common: &common, depth, client_shallow: &shallows });
    if depth.is_some() || !shallows.is_empty() {
        pktline::write_line(&mut out, "shallow-info");
        write_shallow_lines(&mut out, &plan);
        pktline::write_delim(&mut out);
    }
    pktline::write_line(&mut out, "packfile");
    Ok(Response::Pack(PackResponse { head: out, objects: plan.objects, framing: Framing::SideBand { max_payload: MAX_PAYLOAD_64K, progress } }))
}
