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
    // Callers pass at most MAX_PAYLOAD_64K bytes; a longer progress or error
    // text is cut rather than split, since it is only for humans.
    let payload = &payload[..payload.len().min(MAX_PAYLOAD_64K)];
    pktline::write_len(out, payload.len() + 5);
    out.push(band);
    out.extend_from_slice(payload);
}

/// Appends all of `raw` as band-1 packets of `MAX_PAYLOAD_64K`: what a
/// `SideBandFramer` of that size writes for it, whatever the chunking.
pub fn frame_into(out: &mut Vec<u8>, raw: &[u8]) {
    for chunk in raw.chunks(MAX_PAYLOAD_64K) {
        write_band(out, BAND_DATA, chunk);
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

/// The length of `raw_len` bytes framed into band-1 packets of
/// `max_payload` (what `SideBandFramer` writes for them, whatever the
/// chunking): each packet adds a 4-byte length and the band byte.
pub fn framed_len(raw_len: u64, max_payload: usize) -> u64 {
    let max = max_payload.clamp(1, MAX_PAYLOAD_64K) as u64;
    raw_len + raw_len.div_ceil(max) * 5
}

/// Reads band-1 packets (and an optional closing flush) back into the
/// bytes they carry, incrementally (for a client that wants a pack framed
/// differently from how it is stored). Holds at most one packet.
#[derive(Debug, Clone, Default)]
pub struct SideBandDeframer {
    buf: Vec<u8>,
    flushed: bool,
}

/// A stored framed pack that is not a clean run of band-1 packets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored pack is not band-1 packets: {0}")]
pub struct DeframeError(&'static str);

impl SideBandDeframer {
    /// Takes the next chunk; returns the payload bytes it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<u8>, DeframeError> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut at = 0;
        while self.buf.len() - at >= 4 {
            if self.flushed {
                return Err(DeframeError("data after the flush"));
            }
            let len = std::str::from_utf8(&self.buf[at..at + 4])
                .ok()
                .and_then(|h| usize::from_str_radix(h, 16).ok())
                .ok_or(DeframeError("bad length"))?;
            if len == 0 {
                self.flushed = true;
                at += 4;
                continue;
            }
            if !(6..=MAX_PKT_LEN).contains(&len) {
                return Err(DeframeError("packet length out of range"));
            }
            if self.buf.len() - at < len {
                break;
            }
            if self.buf[at + 4] != BAND_DATA {
                return Err(DeframeError("not band 1"));
            }
            out.extend_from_slice(&self.buf[at + 5..at + len]);
            at += len;
        }
        self.buf.drain(..at);
        Ok(out)
    }

    /// Checks nothing is left half-read.
    pub fn finish(&self) -> Result<(), DeframeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DeframeError("truncated packet"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::pktline::{Packet, PktReader};

    #[test]
    fn frame_into_writes_what_a_framer_writes_whatever_the_chunking() {
        for len in [
            0,
            1,
            MAX_PAYLOAD_64K - 1,
            MAX_PAYLOAD_64K,
            MAX_PAYLOAD_64K + 1,
            200_000,
        ] {
            let data: Vec<u8> = (0..len as u32).map(|i| (i % 251) as u8).collect();
            let mut sb = SideBandFramer::new(MAX_PAYLOAD_64K);
            let mut framed = Vec::new();
            for chunk in data.chunks(7_000) {
                framed.extend(sb.push(chunk));
            }
            framed.extend(sb.finish());
            let mut out = Vec::new();
            frame_into(&mut out, &data);
            assert_eq!(out, framed, "{len} bytes");
            assert_eq!(out.len() as u64, framed_len(len as u64, MAX_PAYLOAD_64K));
        }
    }

    #[test]
    fn a_band_message_too_long_for_a_packet_is_cut() {
        let mut out = Vec::new();
        write_band(&mut out, BAND_ERROR, &vec![b'x'; MAX_PAYLOAD_64K + 10]);
        assert_eq!(out.len(), MAX_PKT_LEN);
        assert_eq!(&out[..5], b"fff0\x03");
    }

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

#[cfg(test)]
mod stored_form_tests {
    use super::*;

    #[test]
    fn framed_length_matches_the_framer_whatever_the_chunks() {
        for len in [0usize, 1, 65_514, 65_515, 65_516, 200_000, 131_030] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            for chunk in [1usize, 4096, 65_515, 100_000] {
                let mut f = SideBandFramer::new(MAX_PAYLOAD_64K);
                let mut framed = Vec::new();
                for c in data.chunks(chunk.max(1)) {
                    framed.extend(f.push(c));
                }
                framed.extend(f.finish());
                assert_eq!(
                    framed.len() as u64,
                    framed_len(len as u64, MAX_PAYLOAD_64K),
                    "len {len}, chunk {chunk}"
                );
                // Read back in odd pieces, the bytes come out unchanged.
                let mut d = SideBandDeframer::default();
                let mut back = Vec::new();
                for c in framed.chunks(777) {
                    back.extend(d.push(c).unwrap());
                }
                d.finish().unwrap();
                assert_eq!(back, data);
            }
        }
    }

    #[test]
    fn deframing_refuses_what_is_not_band_one() {
        let mut progress = Vec::new();
        write_band(&mut progress, BAND_PROGRESS, b"hi");
        assert!(SideBandDeframer::default().push(&progress).is_err());
        assert!(SideBandDeframer::default().push(b"zzzz").is_err());
        assert!(SideBandDeframer::default().push(b"0004").is_err());
        let mut d = SideBandDeframer::default();
        assert_eq!(d.push(b"0009\x01ab").unwrap(), Vec::<u8>::new());
        assert!(d.finish().is_err(), "half a packet is truncation");
        let mut d = SideBandDeframer::default();
        assert_eq!(d.push(b"0007\x01ab0000").unwrap(), b"ab".to_vec());
        d.finish().unwrap();
        assert!(d.push(b"0007\x01ab").is_err(), "nothing after the flush");
    }
}
