//! Protocol v0 (and v1, which differs only by a `version 1` line we never
//! send): the ref advertisement and the stateless-RPC fetch exchange.
//!
//! A request is: `want` lines (the first carrying capabilities), optional
//! `shallow`/`deepen`, a flush, then `have` lines ending in a flush (one
//! negotiation round, answered with ACK/NAK only) or `done` (answered with the
//! final ACK/NAK and the pack). This follows git's `upload-pack.c`.

use super::exchange::{
    show, symref_cap, write_shallow_lines, FetchArgs, Framing, Outcome, PackResponse, Refusal,
    Response, Server,
};
use crate::git::negotiate::ok_to_give_up;
use crate::git::oid::ObjectId;
use crate::git::pktline::{self, Packet, PktReader};
use crate::git::repo::{Refs, Repository};
use crate::git::sideband::{MAX_PAYLOAD_64K, MAX_PAYLOAD_SMALL};

/// Capabilities on the first advertised ref, in DESIGN.md's order.
fn capabilities(refs: &Refs, server: &Server<'_>) -> String {
    let mut caps = vec![
        "multi_ack_detailed",
        "side-band-64k",
        "ofs-delta",
        "shallow",
        "no-progress",
        "include-tag",
    ]
    .into_iter()
    .map(str::to_string)
    .collect::<Vec<_>>();
    caps.extend(symref_cap(refs));
    caps.push("object-format=sha1".into());
    caps.push(format!("agent={}", server.agent));
    caps.join(" ")
}

/// The `info/refs?service=git-upload-pack` body for v0 clients.
pub fn advertise_v0(refs: &Refs, server: &Server<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    pktline::write_line(&mut out, "# service=git-upload-pack");
    pktline::write_flush(&mut out);
    let caps = capabilities(refs, server);
    let mut lines: Vec<(String, ObjectId)> = Vec::new();
    if let Some(head) = refs.head() {
        lines.push(("HEAD".into(), head));
    }
    lines.extend(refs.refs.iter().cloned());
    match lines.split_first() {
        None => pktline::write_line(
            &mut out,
            &format!("{} capabilities^{{}}\0{caps}", ObjectId::ZERO),
        ),
        Some(((name, id), rest)) => {
            pktline::write_line(&mut out, &format!("{id} {name}\0{caps}"));
            for (name, id) in rest {
                pktline::write_line(&mut out, &format!("{id} {name}"));
            }
        }
    }
    pktline::write_flush(&mut out);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MultiAck {
    None,
    Plain,
    Detailed,
}

#[derive(Debug, Clone, Copy)]
struct Caps {
    multi_ack: MultiAck,
    framing: Framing,
}

fn parse_caps(words: &[u8]) -> Caps {
    let words: Vec<&[u8]> = words
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w.as_bytes());
    let multi_ack = if has("multi_ack_detailed") {
        MultiAck::Detailed
    } else if has("multi_ack") {
        MultiAck::Plain
    } else {
        MultiAck::None
    };
    let progress = !has("no-progress");
    let framing = if has("side-band-64k") {
        Framing::SideBand {
            max_payload: MAX_PAYLOAD_64K,
            progress,
        }
    } else if has("side-band") {
        Framing::SideBand {
            max_payload: MAX_PAYLOAD_SMALL,
            progress,
        }
    } else {
        Framing::Raw
    };
    Caps { multi_ack, framing }
}

enum Item<'a> {
    End,
    Flush,
    Line(&'a [u8]),
}

/// The next packet as a text line; v0 has no delim or response-end packets.
fn next_item<'a>(r: &mut PktReader<'a>) -> Result<Item<'a>, Outcome> {
    match r.next_packet()? {
        None => Ok(Item::End),
        Some(Packet::Flush) => Ok(Item::Flush),
        Some(p @ Packet::Data(_)) => Ok(Item::Line(p.text().unwrap_or_default())),
        Some(_) => Err(Refusal::new(
            "upload-pack: protocol error, unexpected delim or response-end packet in a v0 request",
        )
        .into()),
    }
}

/// Answers one v0 POST body.
pub(super) fn serve(body: &[u8], repo: &impl Repository) -> Result<Response, Outcome> {
    let mut r = PktReader::new(body);
    let mut args = FetchArgs::default();
    let mut caps = parse_caps(b"");

    loop {
        let line = match next_item(&mut r)? {
            Item::End if args.wants.is_empty() => return Ok(Response::Bytes(Vec::new())),
            Item::End => {
                return Err(Refusal::new(
                    "upload-pack: protocol error, expected a flush after the wants",
                )
                .into())
            }
            Item::Flush => break,
            Item::Line(line) => line,
        };
        if args.wants.is_empty() {
            if let Some(arg) = line.strip_prefix(b"want ") {
                caps = parse_caps(arg.get(41..).unwrap_or_default());
            }
        }
        if !args.take(line, repo)? {
            return Err(Refusal::new(format!(
                "upload-pack: protocol error, expected to get object ID, not '{}'",
                show(line)
            ))
            .into());
        }
    }
    if args.wants.is_empty() {
        return Ok(Response::Bytes(Vec::new()));
    }
    let wants = args.wants.clone();

    let mut out = Vec::new();
    if args.sends_shallow_info() {
        let shallow_plan = args.plan(repo, &[]);
        write_shallow_lines(&mut out, &shallow_plan);
        pktline::write_flush(&mut out);
    }

    // A stateless client's first shallow request ends here: it reads the
    // shallow list and asks again. git answers nothing more in that case.
    if r.is_empty() {
        return Ok(Response::Bytes(out));
    }

    // Negotiation, as git's get_common_commits().
    let mut common: Vec<ObjectId> = Vec::new();
    let mut last: Option<ObjectId> = None;
    let (mut got_common, mut got_other, mut sent_ready) = (false, false, false);
    loop {
        let line = match next_item(&mut r)? {
            Item::End => {
                return Err(Refusal::new(
                    "upload-pack: protocol error, expected have lines, a flush or done",
                )
                .into())
            }
            Item::Flush => {
                if caps.multi_ack == MultiAck::Detailed
                    && got_common
                    && !got_other
                    && !sent_ready
                    && ok_to_give_up(repo, &wants, &common)
                {
                    if let Some(id) = last {
                        pktline::write_line(&mut out, &format!("ACK {id} ready"));
                    }
                }
                if common.is_empty() || caps.multi_ack != MultiAck::None {
                    pktline::write_line(&mut out, "NAK");
                }
                // Stateless RPC: one round per request.
                return Ok(Response::Bytes(out));
            }
            Item::Line(line) => line,
        };
        if let Some(arg) = line.strip_prefix(b"have ") {
            let id = args.push_have(arg)?;
            if repo.commit_parents(&id).is_some() {
                got_common = true;
                last = Some(id);
                if !common.contains(&id) {
                    common.push(id);
                }
                match caps.multi_ack {
                    MultiAck::Detailed => {
                        pktline::write_line(&mut out, &format!("ACK {id} common"))
                    }
                    MultiAck::Plain => pktline::write_line(&mut out, &format!("ACK {id} continue")),
                    MultiAck::None if common.len() == 1 => {
                        pktline::write_line(&mut out, &format!("ACK {id}"))
                    }
                    MultiAck::None => {}
                }
            } else {
                got_other = true;
                if caps.multi_ack != MultiAck::None && ok_to_give_up(repo, &wants, &common) {
                    if caps.multi_ack == MultiAck::Detailed {
                        sent_ready = true;
                        pktline::write_line(&mut out, &format!("ACK {id} ready"));
                    } else {
                        pktline::write_line(&mut out, &format!("ACK {id} continue"));
                    }
                }
            }
        } else if line == b"done" {
            match last {
                Some(id) if caps.multi_ack != MultiAck::None => {
                    pktline::write_line(&mut out, &format!("ACK {id}"))
                }
                Some(_) => {}
                None => pktline::write_line(&mut out, "NAK"),
            }
            break;
        } else {
            return Err(Refusal::new(format!(
                "upload-pack: protocol error, expected have or done, got '{}'",
                show(line)
            ))
            .into());
        }
    }
    if !r.is_empty() {
        return Err(Refusal::new("upload-pack: protocol error, data after 'done'").into());
    }
    let plan = args.plan(repo, &common);
    Ok(Response::Pack(PackResponse {
        head: out,
        objects: plan.objects,
        framing: caps.framing,
    }))
}
