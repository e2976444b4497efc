//! upload-pack as pure logic: request bytes + a `Repository` in, response
//! bytes (and a pack plan) out. Stateless, as smart HTTP requires: every POST
//! carries the whole negotiation so far.
//!
//! Invariants: no input makes this module panic; a protocol error becomes an
//! `ERR` pkt-line (which git prints as `remote error: …`), while input that is
//! not even pkt-lines is an `UploadPackError` for the HTTP layer to map to 400.
//! Only commits the repository knows can be wanted.

mod exchange;
mod framing;
mod v0;
mod v2;

use crate::git::repo::Repository;

pub use exchange::{
    band_error, err_packet, Framing, PackResponse, ProtocolVersion, Response, Server,
    UploadPackError, MAX_HAVES, MAX_SHALLOWS, MAX_WANTS,
};
use exchange::{Outcome, Refusal};
pub use framing::{progress_message, write_framed, PackFramer};
pub use v0::advertise_v0;
pub use v2::advertise_v2;

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
