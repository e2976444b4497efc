//! Side-band multiplexing: pack bytes on band 1, progress on band 2, a fatal
//! error on band 3, each inside pkt-lines.
//!
//! Invariant: `SideBandFramer` buffers at most one packet's payload, so memory does
//! not grow with the pack, and no packet exceeds the negotiated maximum.

use super::pktline::{self, MAX_PKT_LEN};

/// Band numbers.
pub const BAND_DATA: u8 = 1;
pub const BAND_PROGRESS: u8 = 2;
pub const BAND_ERROR: u8 = 3;

/// Largest payload per packet for `side-band-64k` (and always in v2).
pub const MAX_PAYLOAD_64K: usize = MAX_PKT_LEN - 5;
/// Largest payload per packet for the old 1000-byte `side-band`.
pub const MAX_PAYLOAD_SMALL: usize = 1000 - 5;

/// Appends one band packet holding `payload` (which must fit).
pub fn write_band(out: &mut Vec<u8>, band: u8, payload: &[u8]) {
    let mut data = Vec::with_capacity(payload.len() + 1);
    data.push(band);
    data.extend_from_slice(payload);
    // Callers pass at most MAX_PAYLOAD_64K bytes; a longer progress or error
    // text is cut rather than split, since it is only for humans.
    if pktline::write_data(out, &data).is_err() {
        data.truncate(MAX_PAYLOAD_64K + 1);
        let _ = pktline::write_data(out, &data);
    }
}

/// Frames a byte stream into band-1 packets incrementally: feed chunks as
/// they arrive, get back whole packets. Holds at most one packet's payload.
#[derive(Debug, Clone)]
pub struct SideBandFramer {
    buf: Vec<u8>,
    max_payload: usize,
}

impl SideBandFramer {
    /// Packets of at most `max_payload` data bytes (clamped to the 64k limit).
    pub fn new(max_payload: usize) -> Self {
        let max_payload = max_payload.clamp(1, MAX_PAYLOAD_64K);
        SideBandFramer {
            buf: Vec::with_capacity(max_payload),
            max_payload,
        }
    }

    /// Takes `data`; returns the packets it completed.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let n = (self.max_payload - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == self.max_payload {
                self.emit(&mut out);
            }
        }
        out
    }

    /// Emits buffered data, then a progress message on band 2.
    pub fn progress(&mut self, msg: &str) -> Vec<u8> {
        let mut out = Vec::new();
        self.emit(&mut out);
        write_band(&mut out, BAND_PROGRESS, msg.as_bytes());
        out
    }

    /// Emits whatever is buffered.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.emit(&mut out);
        out
    }

    fn emit(&mut self, out: &mut Vec<u8>) {
        if !self.buf.is_empty() {
            write_band(out, BAND_DATA, &self.buf);
            self.buf.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::pktline::{Packet, PktReader};

    #[test]
    fn frames_large_writes_into_bounded_packets() {
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut sb = SideBandFramer::new(MAX_PAYLOAD_64K);
        let mut out = sb.push(&data);
        out.extend(sb.finish());
        let mut r = PktReader::new(&out);
        let mut joined = Vec::new();
        while let Some(Packet::Data(d)) = r.next_packet().unwrap() {
            assert_eq!(d[0], BAND_DATA);
            assert!(d.len() - 1 <= MAX_PAYLOAD_64K);
            joined.extend_from_slice(&d[1..]);
        }
        assert_eq!(joined, data);
    }

    #[test]
    fn framer_in_chunks_equals_framer_at_once() {
        let data: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let mut whole = SideBandFramer::new(MAX_PAYLOAD_64K);
        let mut expected = whole.push(&data);
        expected.extend(whole.finish());
        let mut chunked = SideBandFramer::new(MAX_PAYLOAD_64K);
        let mut got = Vec::new();
        for c in data.chunks(7777) {
            got.extend(chunked.push(c));
        }
        got.extend(chunked.finish());
        assert_eq!(got, expected);
    }

    #[test]
    fn small_band_respects_1000_byte_packets() {
        let mut sb = SideBandFramer::new(MAX_PAYLOAD_SMALL);
        let mut out = sb.push(&[7u8; 3000]);
        out.extend(sb.finish());
        let mut r = PktReader::new(&out);
        while let Some(Packet::Data(d)) = r.next_packet().unwrap() {
            assert!(d.len() + 4 <= 1000);
        }
    }
}
