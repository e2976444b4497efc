//! upload-pack as pure logic: request bytes + a `Repository` in, response
//! bytes (and a pack plan) out. Stateless, as smart HTTP requires: every POST
//! carries the whole negotiation so far.
//!
//! Invariants: no input makes this module panic; a protocol error becomes an
//! `ERR` pkt-line (which git prints as `remote error: …`), while input that is
//! not even pkt-lines is an `UploadPackError` for the HTTP layer to map to 400.
//! Only commits the repository knows can be wanted.

mod v0;
mod v2;

use std::io::Write;

use super::negotiate::{plan_fetch, FetchPlan, FetchScope};
use super::oid::ObjectId;
use super::pack::{PackError, PackWriter};
use super::pktline::{self, PktError};
use super::repo::{ObjectStore, Refs, Repository};
use super::sideband::{self, SideBandFramer, BAND_ERROR};

pub use v0::advertise_v0;
pub use v2::advertise_v2;

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
    fn new(msg: impl Into<String>) -> Self {
        Refusal(msg.into())
    }
}

/// Answers one upload-pack POST body.
pub fn serve(
    version: ProtocolVersion,
    body: &[u8],
    repo: &impl Repository,
    server: &Server<'_>,
) -> Result<Response, UploadPackError> {
    let outcome = match version {
        ProtocolVersion::V0 => v0::serve(body, repo),
        ProtocolVersion::V2 => v2::serve(body, repo, server),
    };
    match outcome {
        Ok(resp) => Ok(resp),
        Err(Outcome::Malformed(e)) => Err(e.into()),
        Err(Outcome::Refused(Refusal(msg))) => Ok(Response::Bytes(err_packet(&msg))),
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
fn parse_id_arg(arg: &[u8], what: &str) -> Result<ObjectId, Refusal> {
    let hex = arg.split(|&b| b == b' ').next().unwrap_or_default();
    ObjectId::from_hex(hex).map_err(|_| {
        Refusal::new(format!(
            "upload-pack: protocol error, expected a {what} object id, got '{}'",
            show(arg)
        ))
    })
}

/// Parses a `deepen` argument: a positive depth.
fn parse_depth(arg: &[u8]) -> Result<u32, Refusal> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|d| *d > 0)
        .ok_or_else(|| Refusal::new(format!("upload-pack: invalid deepen depth '{}'", show(arg))))
}

/// Checks a want is a commit we serve, as git's "not our ref".
fn check_want(repo: &impl Repository, id: &ObjectId) -> Result<(), Refusal> {
    if repo.commit_parents(id).is_none() {
        return Err(Refusal::new(format!("upload-pack: not our ref {id}")));
    }
    Ok(())
}

/// Client bytes shown in an error: lossy UTF-8, cut to a readable length.
fn show(bytes: &[u8]) -> String {
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
struct FetchArgs {
    wants: Vec<ObjectId>,
    haves: Vec<ObjectId>,
    shallows: Vec<ObjectId>,
    depth: Option<u32>,
}

impl FetchArgs {
    /// Takes `line` if it is a want, shallow or deepen line (refusing the
    /// deepen variants we do not support); `Ok(false)` if it is none of them.
    fn take(&mut self, line: &[u8], repo: &impl Repository) -> Result<bool, Refusal> {
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
    fn plan(&self, repo: &impl Repository, common: &[ObjectId]) -> FetchPlan {
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
    fn sends_shallow_info(&self) -> bool {
        self.depth.is_some() || !self.shallows.is_empty()
    }

    /// Records a `have` line's id.
    fn push_have(&mut self, arg: &[u8]) -> Result<ObjectId, Refusal> {
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
fn write_shallow_lines(out: &mut Vec<u8>, plan: &FetchPlan) {
    for id in &plan.shallow {
        pktline::write_line(out, &format!("shallow {id}"));
    }
    for id in &plan.unshallow {
        pktline::write_line(out, &format!("unshallow {id}"));
    }
}

/// The `HEAD` symref capability, when `HEAD` points somewhere.
fn symref_cap(refs: &Refs) -> Option<String> {
    refs.head_target
        .as_ref()
        .map(|t| format!("symref=HEAD:{t}"))
}

/// The band-2 line sent before a pack.
pub fn progress_message(objects: usize) -> String {
    format!("Sending {objects} objects.\n")
}

/// Frames a pack for the wire as a `PackResponse` asks, incrementally: the
/// head (with the progress line), then each chunk of pack bytes, then the
/// rest and the tail. One framer serves every path that sends a pack.
pub struct PackFramer {
    sideband: Option<SideBandFramer>,
    tail: &'static [u8],
}

impl PackFramer {
    /// A framer for `resp` and the bytes to send before the pack.
    pub fn start(resp: &PackResponse) -> (PackFramer, Vec<u8>) {
        Self::start_counted(resp, resp.objects.len())
    }

    /// Like `start`, for a pack of `objects` objects that `resp` does not
    /// list (a cached pack answering a fetch planned without the file
    /// objects; the count only feeds the progress line).
    pub fn start_counted(resp: &PackResponse, objects: usize) -> (PackFramer, Vec<u8>) {
        let mut head = resp.head.clone();
        let sideband = match resp.framing {
            Framing::Raw => None,
            Framing::SideBand {
                max_payload,
                progress,
            } => {
                let mut f = SideBandFramer::new(max_payload);
                if progress {
                    head.extend(f.progress(&progress_message(objects)));
                }
                Some(f)
            }
        };
        (
            PackFramer {
                sideband,
                tail: resp.tail(),
            },
            head,
        )
    }

    /// Frames the next chunk of pack bytes.
    pub fn frame(&mut self, chunk: &[u8]) -> Vec<u8> {
        match &mut self.sideband {
            Some(f) => f.push(chunk),
            None => chunk.to_vec(),
        }
    }

    /// What follows the last chunk: buffered data and the tail.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = self
            .sideband
            .as_mut()
            .map(SideBandFramer::finish)
            .unwrap_or_default();
        out.extend_from_slice(self.tail);
        out
    }

    /// Whether a fatal error can still reach the client (on band 3).
    pub fn is_sideband(&self) -> bool {
        self.sideband.is_some()
    }
}

/// A `Write` that frames what is written through a `PackFramer`.
struct FramedWriter<'a, W: Write> {
    framer: &'a mut PackFramer,
    out: &'a mut W,
}

impl<W: Write> Write for FramedWriter<'_, W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.out.write_all(&self.framer.frame(data))?;
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Writes `resp`'s head, then the pack produced by `write_pack` framed as
/// `resp` asks, then its tail.
pub fn write_framed<W: Write>(
    resp: &PackResponse,
    mut sink: W,
    write_pack: impl FnOnce(&mut dyn Write) -> Result<(), PackError>,
) -> Result<W, PackError> {
    let (mut framer, head) = PackFramer::start(resp);
    sink.write_all(&head)?;
    write_pack(&mut FramedWriter {
        framer: &mut framer,
        out: &mut sink,
    })?;
    sink.write_all(&framer.finish())?;
    Ok(sink)
}

/// Writes a whole pack response synchronously from an `ObjectStore`.
pub fn write_pack_response<W: Write>(
    resp: &PackResponse,
    store: &impl ObjectStore,
    sink: W,
) -> Result<W, PackError> {
    write_framed(resp, sink, |w| {
        write_objects(&resp.objects, store, w).map(|_| ())
    })
}

fn write_objects<W: Write>(
    ids: &[ObjectId],
    store: &impl ObjectStore,
    sink: W,
) -> Result<W, PackError> {
    let count = u32::try_from(ids.len()).map_err(|_| PackError::TooLarge)?;
    let mut pack = PackWriter::new(sink, count)?;
    for id in ids {
        let (kind, body) = store.object(id).ok_or(PackError::MissingObject(*id))?;
        pack.write_object(kind, &body)?;
    }
    Ok(pack.finish()?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::pktline::{Packet, PktReader};

    #[test]
    fn band_error_is_a_band_3_packet() {
        let bytes = band_error("boom");
        let p = PktReader::new(&bytes).next_packet().unwrap().unwrap();
        assert_eq!(p, Packet::Data(b"\x03boom\n"));
    }

    #[test]
    fn protocol_version_header() {
        assert_eq!(
            ProtocolVersion::from_header(Some("version=2")),
            ProtocolVersion::V2
        );
        assert_eq!(
            ProtocolVersion::from_header(Some("foo=bar:version=2")),
            ProtocolVersion::V2
        );
        assert_eq!(
            ProtocolVersion::from_header(Some("version=1")),
            ProtocolVersion::V0
        );
        assert_eq!(ProtocolVersion::from_header(None), ProtocolVersion::V0);
    }
}
