//! pkt-line framing (gitprotocol-common): a 4-hex-digit length that counts
//! itself, then the payload. `0000` flush, `0001` delim, `0002` response-end.
//!
//! Invariants: the reader never reads past its input and never panics on any
//! byte sequence; every packet it yields is at most `MAX_PKT_LEN` bytes long.
//! The writer refuses payloads that would not fit in one packet.

/// Largest packet, header included (git's LARGE_PACKET_MAX).
pub const MAX_PKT_LEN: usize = 65520;
/// Largest payload of a data packet.
pub const MAX_DATA_LEN: usize = MAX_PKT_LEN - 4;

/// One decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    Data(&'a [u8]),
    Flush,
    Delim,
    ResponseEnd,
}

impl<'a> Packet<'a> {
    /// The payload with one trailing LF removed, for text lines.
    pub fn text(&self) -> Option<&'a [u8]> {
        match self {
            Packet::Data(d) => Some(d.strip_suffix(b"\n").unwrap_or(d)),
            _ => None,
        }
    }
}

/// Why input could not be read as pkt-lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PktError {
    #[error("pkt-line length `{0}` is not four hex digits")]
    BadLength(String),
    #[error("pkt-line length {0} is reserved")]
    ReservedLength(usize),
    #[error("pkt-line of {0} bytes exceeds the {MAX_PKT_LEN}-byte limit")]
    TooLong(usize),
    #[error("input ends inside a pkt-line")]
    Truncated,
}

/// Reads packets from a byte slice.
#[derive(Debug, Clone)]
pub struct PktReader<'a> {
    rest: &'a [u8],
}

impl<'a> PktReader<'a> {
    /// A reader over `input`.
    pub fn new(input: &'a [u8]) -> Self {
        PktReader { rest: input }
    }

    /// Whether all input has been consumed.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// How many input bytes are left unread.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The next packet, `Ok(None)` at clean end of input.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'a>>, PktError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        if self.rest.len() < 4 {
            return Err(PktError::Truncated);
        }
        let head = &self.rest[..4];
        let len = parse_len(head)
            .ok_or_else(|| PktError::BadLength(String::from_utf8_lossy(head).into_owned()))?;
        let packet = match len {
            0 => Packet::Flush,
            1 => Packet::Delim,
            2 => Packet::ResponseEnd,
            3 => return Err(PktError::ReservedLength(3)),
            n if n > MAX_PKT_LEN => return Err(PktError::TooLong(n)),
            n => {
                if self.rest.len() < n {
                    return Err(PktError::Truncated);
                }
                let data = &self.rest[4..n];
                self.rest = &self.rest[n..];
                return Ok(Some(Packet::Data(data)));
            }
        };
        self.rest = &self.rest[4..];
        Ok(Some(packet))
    }
}

fn parse_len(head: &[u8]) -> Option<usize> {
    head.iter().try_fold(0usize, |acc, &c| {
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        Some(acc * 16 + usize::from(v))
    })
}

/// A payload was too large for one packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payload of {0} bytes does not fit in one pkt-line")]
pub struct PayloadTooLong(pub usize);

/// Appends a data packet.
pub fn write_data(out: &mut Vec<u8>, data: &[u8]) -> Result<(), PayloadTooLong> {
    if data.len() > MAX_DATA_LEN {
        return Err(PayloadTooLong(data.len()));
    }
    write_len(out, data.len() + 4);
    out.extend_from_slice(data);
    Ok(())
}

/// Appends a text line, adding the LF. Lines longer than a packet are cut,
/// which only ever affects human-readable messages.
pub fn write_line(out: &mut Vec<u8>, line: &str) {
    let mut end = line.len().min(MAX_DATA_LEN - 1);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    write_len(out, end + 5);
    out.extend_from_slice(&line.as_bytes()[..end]);
    out.push(b'\n');
}

/// Appends `0000`.
pub fn write_flush(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0000");
}

/// Appends `0001`.
pub fn write_delim(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0001");
}

/// Appends a packet's four-hex-digit length (`len` counts these four).
pub fn write_len(out: &mut Vec<u8>, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in [12, 8, 4, 0] {
        out.push(HEX[(len >> shift) & 15]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_specials() {
        let mut out = Vec::new();
        write_line(&mut out, "hello");
        write_delim(&mut out);
        write_data(&mut out, b"").unwrap();
        write_flush(&mut out);
        out.extend_from_slice(b"0002");
        assert_eq!(&out[..10], b"000ahello\n");
        let mut r = PktReader::new(&out);
        assert_eq!(
            r.next_packet().unwrap().unwrap().text(),
            Some(&b"hello"[..])
        );
        assert_eq!(r.next_packet().unwrap(), Some(Packet::Delim));
        assert_eq!(r.next_packet().unwrap(), Some(Packet::Data(b"")));
        assert_eq!(r.next_packet().unwrap(), Some(Packet::Flush));
        assert_eq!(r.next_packet().unwrap(), Some(Packet::ResponseEnd));
        assert_eq!(r.next_packet().unwrap(), None);
    }

    #[test]
    fn malformed_lengths_are_errors() {
        assert_eq!(
            PktReader::new(b"00").next_packet(),
            Err(PktError::Truncated)
        );
        assert_eq!(
            PktReader::new(b"zzzz").next_packet(),
            Err(PktError::BadLength("zzzz".into()))
        );
        assert_eq!(
            PktReader::new(b"0003").next_packet(),
            Err(PktError::ReservedLength(3))
        );
        assert_eq!(
            PktReader::new(b"fff1").next_packet(),
            Err(PktError::TooLong(0xfff1))
        );
        assert_eq!(
            PktReader::new(b"0010abc").next_packet(),
            Err(PktError::Truncated)
        );
    }

    #[test]
    fn writer_refuses_oversize_payload() {
        let mut out = Vec::new();
        assert!(write_data(&mut out, &vec![0; MAX_DATA_LEN]).is_ok());
        assert_eq!(
            write_data(&mut out, &vec![0; MAX_DATA_LEN + 1]),
            Err(PayloadTooLong(MAX_DATA_LEN + 1))
        );
    }

    #[test]
    fn long_lines_are_cut_on_char_boundaries() {
        let mut out = Vec::new();
        write_line(&mut out, &"é".repeat(MAX_DATA_LEN));
        let p = PktReader::new(&out).next_packet().unwrap().unwrap();
        assert!(std::str::from_utf8(p.text().unwrap()).is_ok());
    }
}
