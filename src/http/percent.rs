//! Percent-encoding at the HTTP boundary: decoding a URL path segment, and
//! a `Content-Disposition` that names a download exactly (RFC 6266, with
//! the RFC 5987 `filename*` form for names that are not plain ASCII).

/// `seg` with its `%XX` escapes decoded; `None` if an escape is broken or
/// the result is not UTF-8.
pub fn decode_segment(seg: &str) -> Option<String> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `Content-Disposition` for downloading `path` under its file name: an
/// ASCII fallback (quotes, backslashes and the rest replaced by `_`) and
/// the exact name, percent-encoded as UTF-8.
pub fn attachment(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_spaces_and_utf8_and_refuses_broken_escapes() {
        assert_eq!(
            decode_segment("reference%20guide.md").as_deref(),
            Some("reference guide.md")
        );
        assert_eq!(
            decode_segment("r%C3%A9sum%C3%A9.md").as_deref(),
            Some("résumé.md")
        );
        assert_eq!(decode_segment("plain").as_deref(), Some("plain"));
        assert_eq!(decode_segment("100%"), None);
        assert_eq!(decode_segment("%zz"), None);
        assert_eq!(decode_segment("%C3"), None, "half a UTF-8 sequence");
    }

    #[test]
    fn names_a_download_in_ascii_and_exactly() {
        assert_eq!(
            attachment("docs/résumé \"v2\".md"),
            "attachment; filename=\"r_sum___v2_.md\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.md"
        );
        assert_eq!(
            attachment("SKILL.md"),
            "attachment; filename=\"SKILL.md\"; filename*=UTF-8''SKILL.md"
        );
    }
}
