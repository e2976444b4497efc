//! Lowercase hex: the one text form of every digest, id and random secret
//! this service writes (object ids, sha256 digests, tokens, session and
//! request ids). Reading is strict: lowercase digits only, as git sends.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` to `out` as lowercase hex.
pub fn write(bytes: &[u8], out: &mut Vec<u8>) {
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 15) as usize]);
    }
}

/// `bytes` as lowercase hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    write(bytes, &mut out);
    // Only ASCII hex digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// The value of one lowercase hex digit.
pub fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Lowercase hex back to bytes; `None` unless it is whole pairs of
/// lowercase hex digits.
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks_exact(2)
        .map(|pair| Some((digit(pair[0])? << 4) | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_lowercase_hex() {
        let bytes = [0x00, 0x0f, 0xa5, 0xff];
        assert_eq!(encode(&bytes), "000fa5ff");
        assert_eq!(decode(b"000fa5ff"), Some(bytes.to_vec()));
        assert_eq!(decode(b""), Some(Vec::new()));
        assert_eq!(decode(b"0"), None, "odd length");
        assert_eq!(decode(b"0G"), None);
        assert_eq!(decode(b"AB"), None, "uppercase");
    }
}
