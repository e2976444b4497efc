//! What both protocol versions share: the server's settings, the limits,
//! the parsed fetch arguments and their checks, and the answers (a
//! response, a refusal as `ERR`, or malformed input).

use crate::git::negotiate::{plan_fetch, FetchPlan, FetchScope};
use crate::git::oid::ObjectId;
use crate::git::pktline::{self, PktError};
use crate::git::repo::{Refs, Repository};
use crate::git::sideband::{self, BAND_ERROR};

/// Most `want` lines accepted in one request.
pub const MAX_WANTS: usize = 256;
/// Most `have` lines accepted in one request.
pub const MAX_HAVES: usize = 4096;
/// Most `shallow` lines accepted in one request.
pub const MAX_SHALLOWS: usize = 4096;

/// The wire protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    V0,
    V2,
}

impl ProtocolVersion {
    /// Reads a `Git-Protocol` header: `version=2` anywhere selects v2.
    pub fn from_header(header: Option<&str>) -> Self {
        let v2 = header.is_some_and(|h| h.split(':').any(|kv| kv.trim() == "version=2"));
        if v2 {
            ProtocolVersion::V2
        } else {
            ProtocolVersion::V0
        }
    }
}

/// Server identity sent as `agent=`.
#[derive(Debug, Clone)]
pub struct Server<'a> {
    pub agent: &'a str,
}

/// How pack bytes are framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The pack follows the negotiation bytes directly (v0 without side-band).
    Raw,
    /// Band-1 packets of at most `max_payload` bytes, then a flush.
    SideBand { max_payload: usize, progress: bool },
}

/// A response that carries a pack.
#[derive(Debug, Clone)]
pub struct PackResponse {
    /// Negotiation and section headers, sent before the pack.
    pub head: Vec<u8>,
    /// Objects to pack, in order.
    pub objects: Vec<ObjectId>,
    pub framing: Framing,
}

impl PackResponse {
    /// Bytes to send after the pack.
    pub fn tail(&self) -> &'static [u8] {
        match self.framing {
            Framing::Raw => b"",
            Framing::SideBand { .. } => b"0000",
        }
    }
}

/// What a POST to `git-upload-pack` answers.
#[derive(Debug, Clone)]
pub enum Response {
    /// A complete response with no pack (ls-refs, a negotiation round, `ERR`).
    Bytes(Vec<u8>),
    /// Negotiation bytes, then a pack, then `tail()`.
    Pack(PackResponse),
}

/// Request bodies that are not valid pkt-line streams.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadPackError {
    #[error("malformed pkt-line: {0}")]
    Pkt(#[from] PktError),
}

/// A protocol-level refusal, reported to the client as `ERR <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal(pub String);

impl Refusal {
    pub(super) fn new(msg: impl Into<String>) -> Self {
        Refusal(msg.into())
    }
}

/// Why a request produced no normal response.
pub(crate) enum Outcome {
    Malformed(PktError),
    Refused(Refusal),
}

impl From<PktError> for Outcome {
    fn from(e: PktError) -> Self {
        Outcome::Malformed(e)
    }
}

impl From<Refusal> for Outcome {
    fn from(r: Refusal) -> Self {
        Outcome::Refused(r)
    }
}

/// An `ERR` pkt-line.
pub fn err_packet(msg: &str) -> Vec<u8> {
    let mut out = Vec::new();
    pktline::write_line(&mut out, &format!("ERR {msg}"));
    out
}

/// A fatal message on band 3, for failures after the pack has started.
pub fn band_error(msg: &str) -> Vec<u8> {
    let mut out = Vec::new();
    sideband::write_band(&mut out, BAND_ERROR, format!("{msg}\n").as_bytes());
    out
}

/// Parses `<prefix><40 hex>` (with optional trailing text after a space).
pub(super) fn parse_id_arg(arg: &[u8], what: &str) -> Result<ObjectId, Refusal> {
    let hex = arg.split(|&b| b == b' ').next().unwrap_or_default();
    ObjectId::from_hex(hex).map_err(|_| {
        Refusal::new(format!(
            "upload-pack: protocol error, expected a {what} object id, got '{}'",
            show(arg)
        ))
    })
}

/// Parses a `deepen` argument: a positive depth.
pub(super) fn parse_depth(arg: &[u8]) -> Result<u32, Refusal> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|d| *d > 0)
        .ok_or_else(|| Refusal::new(format!("upload-pack: invalid deepen depth '{}'", show(arg))))
}

/// Checks a want is a commit we serve, as git's "not our ref".
pub(super) fn check_want(repo: &impl Repository, id: &ObjectId) -> Result<(), Refusal> {
    if repo.commit_parents(id).is_none() {
        return Err(Refusal::new(format!("upload-pack: not our ref {id}")));
    }
    Ok(())
}

/// Client bytes shown in an error: lossy UTF-8, cut to a readable length.
pub(super) fn show(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out.escape_debug().to_string()
}

/// The `want`, `have`, `shallow` and `deepen` lines v0 and v2 share, with
/// their limits enforced as they arrive.
#[derive(Debug, Default)]
pub(super) struct FetchArgs {
    pub(super) wants: Vec<ObjectId>,
    pub(super) haves: Vec<ObjectId>,
    pub(super) shallows: Vec<ObjectId>,
    pub(super) depth: Option<u32>,
}

impl FetchArgs {
    /// Takes `line` if it is a want, shallow or deepen line (refusing the
    /// deepen variants we do not support); `Ok(false)` if it is none of them.
    pub(super) fn take(&mut self, line: &[u8], repo: &impl Repository) -> Result<bool, Refusal> {
        if let Some(arg) = line.strip_prefix(b"want ") {
            let id = parse_id_arg(arg, "wanted")?;
            check_want(repo, &id)?;
            if !self.wants.contains(&id) {
                if self.wants.len() == MAX_WANTS {
                    return Err(Refusal::new(format!(
                        "upload-pack: more than {MAX_WANTS} wants"
                    )));
                }
                self.wants.push(id);
            }
        } else if let Some(arg) = line.strip_prefix(b"shallow ") {
            if self.shallows.len() == MAX_SHALLOWS {
                return Err(Refusal::new(format!(
                    "upload-pack: more than {MAX_SHALLOWS} shallow lines"
                )));
            }
            self.shallows.push(parse_id_arg(arg, "shallow")?);
        } else if let Some(arg) = line.strip_prefix(b"deepen ") {
            self.depth = Some(parse_depth(arg)?);
        } else if [
            &b"deepen-since"[..],
            b"deepen-not",
            b"deepen-relative",
            b"filter",
        ]
        .iter()
        .any(|p| line.starts_with(p))
        {
            return Err(Refusal::new(format!(
                "upload-pack: '{}' is not supported by this server",
                show(line)
            )));
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// The fetch plan for these arguments, given the haves found common.
    pub(super) fn plan(&self, repo: &impl Repository, common: &[ObjectId]) -> FetchPlan {
        let scope = FetchScope {
            wants: &self.wants,
            common,
            depth: self.depth,
            client_shallow: &self.shallows,
        };
        plan_fetch(repo, &scope)
    }

    /// Whether the response carries shallow information (git sends it when
    /// the client deepens or is itself shallow).
    pub(super) fn sends_shallow_info(&self) -> bool {
        self.depth.is_some() || !self.shallows.is_empty()
    }

    /// Records a `have` line's id.
    pub(super) fn push_have(&mut self, arg: &[u8]) -> Result<ObjectId, Refusal> {
        if self.haves.len() == MAX_HAVES {
            return Err(Refusal::new(format!(
                "upload-pack: more than {MAX_HAVES} haves"
            )));
        }
        let id = parse_id_arg(arg, "have")?;
        self.haves.push(id);
        Ok(id)
    }
}

/// Writes `shallow`/`unshallow` lines.
pub(super) fn write_shallow_lines(out: &mut Vec<u8>, plan: &FetchPlan) {
    for id in &plan.shallow {
        pktline::write_line(out, &format!("shallow {id}"));
    }
    for id in &plan.unshallow {
        pktline::write_line(out, &format!("unshallow {id}"));
    }
}

/// The `HEAD` symref capability, when `HEAD` points somewhere.
pub(super) fn symref_cap(refs: &Refs) -> Option<String> {
    refs.head_target
        .as_ref()
        .map(|t| format!("symref=HEAD:{t}"))
}
