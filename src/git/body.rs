//! Request bodies: size limits and `Content-Encoding: gzip`.
//!
//! Invariant: decoding never produces more than the limit, however small the
//! compressed input, so a gzip bomb costs at most `limit` bytes of memory.

use std::io::Read;

use flate2::read::MultiGzDecoder;

/// Largest upload-pack request body, before and after decompression.
/// A fetch needs ~50 bytes per want/have line; this leaves room for
/// thousands of haves while keeping a hostile body cheap.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("unsupported Content-Encoding `{0}`; send identity or gzip")]
    UnsupportedEncoding(String),
    #[error("request body is not valid gzip: {0}")]
    BadGzip(String),
}

/// Returns the decoded body, enforcing `limit` on both sides of decoding.
pub fn decode_body(
    body: &[u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if body.len() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    match content_encoding
        .map(|e| e.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("identity") => Ok(body.to_vec()),
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::new();
            let mut dec = MultiGzDecoder::new(body).take(limit as u64 + 1);
            dec.read_to_end(&mut out)
                .map_err(|e| BodyError::BadGzip(e.to_string()))?;
            if out.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            Ok(out)
        }
        Some(other) => Err(BodyError::UnsupportedEncoding(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn identity_and_gzip_decode() {
        assert_eq!(decode_body(b"abc", None, 100).unwrap(), b"abc");
        assert_eq!(
            decode_body(&gzip(b"abc"), Some("gzip"), 100).unwrap(),
            b"abc"
        );
    }

    #[test]
    fn bombs_and_junk_are_refused() {
        let bomb = gzip(&vec![0u8; 10_000_000]);
        assert!(bomb.len() < 20_000);
        assert_eq!(
            decode_body(&bomb, Some("gzip"), MAX_REQUEST_BYTES),
            Err(BodyError::TooLarge {
                limit: MAX_REQUEST_BYTES
            })
        );
        assert!(matches!(
            decode_body(b"not gzip", Some("gzip"), 100),
            Err(BodyError::BadGzip(_))
        ));
        assert_eq!(
            decode_body(b"x", Some("br"), 100),
            Err(BodyError::UnsupportedEncoding("br".into()))
        );
        assert_eq!(
            decode_body(b"xxxx", None, 3),
            Err(BodyError::TooLarge { limit: 3 })
        );
    }
}
