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
use super::AGENT;

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

/// Which fetch answer a `FetchReader` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchAnswer {
    /// A v2 `fetch`: sections, the pack in the `packfile` one.
    V2,
    /// A v0 fetch: `shallow` lines, `NAK`, then side-band packets or the
    /// bare pack.
    V0,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Text lines before the pack.
    BeforePack,
    /// Side-band packets of the pack (`bare` while a v0 answer may still
    /// turn out to send the pack without side-band).
    SideBand { bare: bool },
    /// The pack itself, unframed, to the end.
    Raw,
    /// The pack's section ended; anything after is ignored.
    Done,
}

/// Reads a fetch answer as it arrives, in pieces of any size, and hands
/// out the pack it carries: the side-band is demultiplexed on the way, so
/// the pack can go on (to R2) without the answer ever being held whole.
/// Only a partial packet (at most 64 KiB) is kept between pieces.
pub struct FetchReader {
    answer: FetchAnswer,
    stage: Stage,
    pending: Vec<u8>,
}

impl FetchReader {
    /// A reader for an answer of kind `answer`.
    pub fn new(answer: FetchAnswer) -> Self {
        FetchReader {
            answer,
            stage: Stage::BeforePack,
            pending: Vec::new(),
        }
    }

    /// Takes the next piece of the answer; appends the pack bytes it
    /// completes to `out`.
    pub fn push(&mut self, piece: &[u8], out: &mut Vec<u8>) -> Result<(), ClientError> {
        match self.stage {
            Stage::Raw => {
                out.extend_from_slice(piece);
                return Ok(());
            }
            Stage::Done => return Ok(()),
            _ => {}
        }
        self.pending.extend_from_slice(piece);
        let mut at = 0;
        let read = self.packets(&mut at, out);
        self.pending.drain(..at);
        read
    }

    /// Ends the answer: an error if it held no pack, or stopped inside a
    /// packet of it.
    pub fn finish(self) -> Result<(), ClientError> {
        match self.stage {
            Stage::BeforePack => Err(ClientError::NoPack),
            Stage::SideBand { .. } if !self.pending.is_empty() => {
                Err(ClientError::Framing("a truncated packet".into()))
            }
            _ => Ok(()),
        }
    }

    /// Reads the whole packets in `pending[at..]`, moving `at` past them.
    fn packets(&mut self, at: &mut usize, out: &mut Vec<u8>) -> Result<(), ClientError> {
        loop {
            let buf = &self.pending[*at..];
            match self.stage {
                Stage::Done => {
                    *at = self.pending.len();
                    return Ok(());
                }
                Stage::Raw => {
                    out.extend_from_slice(buf);
                    *at = self.pending.len();
                    return Ok(());
                }
                _ => {}
            }
            if buf.len() < 4 {
                return Ok(());
            }
            if let Stage::SideBand { bare: true } = self.stage {
                // Not hex, so never a packet length.
                if buf.starts_with(b"PACK") {
                    self.stage = Stage::Raw;
                    continue;
                }
                self.stage = Stage::SideBand { bare: false };
            }
            let len = std::str::from_utf8(&buf[..4])
                .ok()
                .and_then(|h| usize::from_str_radix(h, 16).ok())
                .ok_or_else(|| ClientError::Framing("a packet length is not hex".into()))?;
            if len < 4 {
                // A flush, delimiter or response end: a flush in the pack
                // ends its section; before the pack, sections go by.
                *at += 4;
                if len == 0 && matches!(self.stage, Stage::SideBand { .. }) {
                    self.stage = Stage::Done;
                }
                continue;
            }
            if len == 4 {
                return Err(ClientError::Framing("an empty packet".into()));
            }
            if buf.len() < len {
                return Ok(());
            }
            let payload = &buf[4..len];
            match self.stage {
                Stage::BeforePack => {
                    let line = payload.strip_suffix(b"\n").unwrap_or(payload);
                    if let Some(msg) = line.strip_prefix(b"ERR ") {
                        return Err(ClientError::Remote(
                            String::from_utf8_lossy(msg).trim().into(),
                        ));
                    }
                    if self.ends_preamble(line)? {
                        self.stage = Stage::SideBand {
                            bare: self.answer == FetchAnswer::V0,
                        };
                    }
                }
                _ => match payload[0] {
                    1 => out.extend_from_slice(&payload[1..]),
                    2 => {}
                    3 => {
                        return Err(ClientError::Remote(
                            String::from_utf8_lossy(&payload[1..]).trim().to_string(),
                        ))
                    }
                    _ => return Err(ClientError::Malformed("a pack packet is on no known band")),
                },
            }
            *at += len;
        }
    }

    /// Whether `line` is the last before the pack; an error for a line
    /// that has no business there.
    fn ends_preamble(&self, line: &[u8]) -> Result<bool, ClientError> {
        match self.answer {
            FetchAnswer::V2 => Ok(line == b"packfile"),
            FetchAnswer::V0 => match line {
                b"NAK" | b"ACK" => Ok(true),
                t if t.starts_with(b"ACK ") => Ok(true),
                t if t.starts_with(b"shallow ") || t.starts_with(b"unshallow ") => Ok(false),
                _ => Err(ClientError::Malformed("an unexpected line before the pack")),
            },
        }
    }
}

/// The pack inside a whole fetch answer of kind `answer`.
pub fn parse_fetch(answer: FetchAnswer, body: &[u8]) -> Result<Vec<u8>, ClientError> {
    let mut reader = FetchReader::new(answer);
    let mut pack = Vec::new();
    reader.push(body, &mut pack)?;
    reader.finish()?;
    Ok(pack)
}

/// The pack inside a v2 `fetch` answer (its `packfile` section, side-band
/// demultiplexed).
pub fn parse_fetch_v2(body: Vec<u8>) -> Result<Vec<u8>, ClientError> {
    parse_fetch(FetchAnswer::V2, &body)
}

/// The pack inside a v0 fetch answer: `shallow` lines, a flush, `NAK`,
/// then side-band packets (or the bare pack when side-band was not
/// offered).
pub fn parse_fetch_v0(body: Vec<u8>) -> Result<Vec<u8>, ClientError> {
    parse_fetch(FetchAnswer::V0, &body)
}
