//! The client side of upload-pack, for following upstream repositories:
//! the requests a sync sends (protocol v2 `ls-refs` and `fetch`, and v0 for
//! servers without v2) and the reading of their answers.
//!
//! Pure: the caller does the HTTP. Invariants: every answer is read with
//! the pkt-line reader, so malformed input is an error, never a panic; a
//! fetch never asks for a thin pack (the reader refuses them) and always
//! asks for `deepen 1` (only the tree at the commit is wanted); a band-3
//! message from the server becomes an error carrying its text.

use super::oid::ObjectId;
use super::pktline::{write_delim, write_flush, write_line, Packet, PktReader};

/// What the client calls itself, in `agent=` and `User-Agent`.
pub use crate::AGENT;

/// Why a server's answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("the server's answer is not valid pkt-lines: {0}")]
    Framing(String),
    #[error("the server's answer is malformed: {0}")]
    Malformed(&'static str),
    #[error("the server reported an error: {0}")]
    Remote(String),
    #[error("the answer holds no pack")]
    NoPack,
}

/// The refs a server advertised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteRefs {
    /// Where `HEAD` points, if the server said.
    pub head_target: Option<String>,
    /// `HEAD` itself, if advertised.
    pub head: Option<ObjectId>,
    /// Ref name → id; for annotated tags, the commit they peel to.
    pub refs: Vec<(String, ObjectId)>,
}

impl RemoteRefs {
    /// The commit `wanted` names: `None` → `HEAD`; a full ref name; a
    /// branch; a tag; or a full 40-hex commit id (pinned, not looked up).
    pub fn resolve(&self, wanted: Option<&str>) -> Option<ObjectId> {
        let Some(w) = wanted else {
            return self.head;
        };
        if w.len() == 40 {
            if let Ok(id) = ObjectId::from_hex(w.as_bytes()) {
                return Some(id);
            }
        }
        let find = |name: &str| self.refs.iter().find(|(n, _)| n == name).map(|(_, id)| *id);
        find(w)
            .or_else(|| find(&format!("refs/heads/{w}")))
            .or_else(|| find(&format!("refs/tags/{w}")))
    }
}

/// Whether an `info/refs` answer speaks protocol v2.
pub fn is_v2_advertisement(body: &[u8]) -> bool {
    let mut r = PktReader::new(body);
    while let Ok(Some(p)) = r.next_packet() {
        if let Some(line) = p.text() {
            if line == b"version 2" {
                return true;
            }
            if !line.starts_with(b"# service=") {
                return false;
            }
        }
    }
    false
}

/// The v2 `ls-refs` request for branches, tags and `HEAD`.
pub fn ls_refs_request() -> Vec<u8> {
    let mut out = Vec::new();
    write_line(&mut out, "command=ls-refs");
    write_line(&mut out, &format!("agent={AGENT}"));
    write_delim(&mut out);
    for arg in [
        "peel",
        "symrefs",
        "ref-prefix HEAD",
        "ref-prefix refs/heads/",
        "ref-prefix refs/tags/",
    ] {
        write_line(&mut out, arg);
    }
    write_flush(&mut out);
    out
}

fn packets(body: &[u8]) -> Result<Vec<Packet<'_>>, ClientError> {
    let mut r = PktReader::new(body);
    let mut out = Vec::new();
    while let Some(p) = r
        .next_packet()
        .map_err(|e| ClientError::Framing(e.to_string()))?
    {
        out.push(p);
    }
    Ok(out)
}

fn oid(hex: &[u8]) -> Result<ObjectId, ClientError> {
    ObjectId::from_hex(hex).map_err(|_| ClientError::Malformed("a ref's id is not 40 hex digits"))
}

/// Reads a v2 `ls-refs` answer.
pub fn parse_ls_refs(body: &[u8]) -> Result<RemoteRefs, ClientError> {
    let mut refs = RemoteRefs::default();
    for p in packets(body)? {
        let Some(line) = p.text() else { continue };
        let line = std::str::from_utf8(line)
            .map_err(|_| ClientError::Malformed("a ref line is not UTF-8"))?;
        let mut parts = line.split(' ');
        let (Some(id), Some(name)) = (parts.next(), parts.next()) else {
            return Err(ClientError::Malformed("a ref line lacks an id or a name"));
        };
        let mut id = oid(id.as_bytes())?;
        for attr in parts {
            if let Some(target) = attr.strip_prefix("symref-target:") {
                if name == "HEAD" {
                    refs.head_target = Some(target.to_string());
                }
            } else if let Some(peeled) = attr.strip_prefix("peeled:") {
                id = oid(peeled.as_bytes())?;
            }
        }
        if name == "HEAD" {
            refs.head = Some(id);
        } else {
            refs.refs.push((name.to_string(), id));
        }
    }
    Ok(refs)
}

/// Reads a v0 `info/refs?service=git-upload-pack` answer (refs and the
/// capabilities on the first line).
pub fn parse_v0_advertisement(body: &[u8]) -> Result<(RemoteRefs, Vec<String>), ClientError> {
    let mut refs = RemoteRefs::default();
    let mut caps = Vec::new();
    let mut first = true;
    let mut peeled: Vec<(String, ObjectId)> = Vec::new();
    for p in packets(body)? {
        let Some(line) = p.text() else { continue };
        if line.starts_with(b"# service=") {
            continue;
        }
        let (refpart, capspart) = match line.iter().position(|&b| b == 0) {
            Some(nul) => (&line[..nul], Some(&line[nul + 1..])),
            None => (line, None),
        };
        if first {
            if let Some(c) = capspart {
                caps = String::from_utf8_lossy(c)
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            first = false;
        }
        let refpart = std::str::from_utf8(refpart)
            .map_err(|_| ClientError::Malformed("a ref line is not UTF-8"))?;
        let (id, name) = refpart
            .split_once(' ')
            .ok_or(ClientError::Malformed("a ref line lacks an id or a name"))?;
        let id = oid(id.as_bytes())?;
        if name == "capabilities^{}" {
            continue;
        }
        if let Some(tag) = name.strip_suffix("^{}") {
            peeled.push((tag.to_string(), id));
        } else if name == "HEAD" {
            refs.head = Some(id);
        } else {
            refs.refs.push((name.to_string(), id));
        }
    }
    for (tag, id) in peeled {
        if let Some(r) = refs.refs.iter_mut().find(|(n, _)| *n == tag) {
            r.1 = id;
        }
    }
    refs.head_target = caps
        .iter()
        .find_map(|c| c.strip_prefix("symref=HEAD:"))
        .map(str::to_owned);
    Ok((refs, caps))
}

/// The v2 `fetch` of `want` at depth 1, its pack with OFS deltas allowed.
pub fn fetch_request_v2(want: &ObjectId) -> Vec<u8> {
    let mut out = Vec::new();
    write_line(&mut out, "command=fetch");
    write_line(&mut out, &format!("agent={AGENT}"));
    write_delim(&mut out);
    write_line(&mut out, "ofs-delta");
    write_line(&mut out, "no-progress");
    write_line(&mut out, "deepen 1");
    write_line(&mut out, &format!("want {}", want.to_hex()));
    write_line(&mut out, "done");
    write_flush(&mut out);
    out
}

/// The v0 fetch of `want` at depth 1 (the server must offer `shallow`).
pub fn fetch_request_v0(want: &ObjectId, server_caps: &[String]) -> Vec<u8> {
    let offered = |c: &str| server_caps.iter().any(|s| s == c);
    let mut caps = vec![format!("agent={AGENT}")];
    for c in ["side-band-64k", "ofs-delta", "shallow", "no-progress"] {
        if offered(c) {
            caps.push(c.to_string());
        }
    }
    let mut out = Vec::new();
    write_line(
        &mut out,
        &format!("want {} {}", want.to_hex(), caps.join(" ")),
    );
    write_line(&mut out, "deepen 1");
    write_flush(&mut out);
    write_line(&mut out, "done");
    out
}

/// The offset just after the text line that ends the part of a fetch
/// answer before the pack: `ends(line)` says whether a line is that one,
/// reads on, or refuses a line that has no business there. An `ERR` line
/// is the server's error; running out of lines means there is no pack.
fn pack_start(
    body: &[u8],
    ends: impl Fn(&[u8]) -> Result<bool, ClientError>,
) -> Result<usize, ClientError> {
    let mut r = PktReader::new(body);
    while let Some(p) = r
        .next_packet()
        .map_err(|e| ClientError::Framing(e.to_string()))?
    {
        let Some(line) = p.text() else { continue };
        if let Some(msg) = line.strip_prefix(b"ERR ") {
            return Err(ClientError::Remote(
                String::from_utf8_lossy(msg).trim().into(),
            ));
        }
        if ends(line)? {
            return Ok(body.len() - r.remaining());
        }
    }
    Err(ClientError::NoPack)
}

/// The pack inside a v2 `fetch` answer (its `packfile` section, side-band
/// demultiplexed), in the answer's own buffer: a pack can be most of the
/// isolate's memory, so it is never copied.
pub fn parse_fetch_v2(mut body: Vec<u8>) -> Result<Vec<u8>, ClientError> {
    let start = pack_start(&body, |line| Ok(line == b"packfile"))?;
    demux_in_place(&mut body, start)?;
    Ok(body)
}

/// The pack inside a v0 fetch answer: `shallow` lines, a flush, `NAK`,
/// then side-band packets (or the bare pack when side-band was not
/// offered); in the answer's own buffer.
pub fn parse_fetch_v0(mut body: Vec<u8>) -> Result<Vec<u8>, ClientError> {
    let start = pack_start(&body, |line| match line {
        b"NAK" | b"ACK" => Ok(true),
        t if t.starts_with(b"ACK ") => Ok(true),
        t if t.starts_with(b"shallow ") || t.starts_with(b"unshallow ") => Ok(false),
        _ => Err(ClientError::Malformed("an unexpected line before the pack")),
    })?;
    if body[start..].starts_with(b"PACK") {
        body.drain(..start);
        return Ok(body);
    }
    demux_in_place(&mut body, start)?;
    Ok(body)
}

/// Moves the band-1 payloads of the side-band packets in `buf[start..]` to
/// the front of `buf` and drops the rest. Payloads only ever move towards
/// the front (each packet's header is skipped), so no copy of the pack is
/// needed.
fn demux_in_place(buf: &mut Vec<u8>, start: usize) -> Result<(), ClientError> {
    let (mut read, mut write) = (start, 0);
    while read < buf.len() {
        let head = buf
            .get(read..read + 4)
            .ok_or_else(|| ClientError::Framing("a truncated packet length".into()))?;
        let len = std::str::from_utf8(head)
            .ok()
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .ok_or_else(|| ClientError::Framing("a packet length is not hex".into()))?;
        if len < 4 {
            // A flush (or delimiter) ends the section.
            read += 4;
            if len == 0 {
                break;
            }
            continue;
        }
        if read + len > buf.len() || len < 5 {
            return Err(ClientError::Framing("a truncated packet".into()));
        }
        match buf[read + 4] {
            1 => {
                buf.copy_within(read + 5..read + len, write);
                write += len - 5;
            }
            2 => {}
            3 => {
                return Err(ClientError::Remote(
                    String::from_utf8_lossy(&buf[read + 5..read + len])
                        .trim()
                        .to_string(),
                ))
            }
            _ => return Err(ClientError::Malformed("a pack packet is on no known band")),
        }
        read += len;
    }
    buf.truncate(write);
    Ok(())
}
