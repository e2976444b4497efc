//! Sending a pack: the progress line, side-band framing (or none) chosen by
//! the `PackResponse`, incrementally, so every path that sends a pack frames
//! it the same way.

use std::io::Write;

use super::exchange::{Framing, PackResponse};
use crate::git::pack::PackError;
use crate::git::sideband::SideBandFramer;

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
