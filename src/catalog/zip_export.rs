//! The ZIP channel: a deterministic ZIP of a served tree.
//!
//! Invariant: the same files give the same bytes — entries sorted by path,
//! every timestamp 1980-01-01 00:00, modes 0644/0755, deflate at a fixed
//! level — so the view's ETag is a valid strong ETag for the ZIP.

use std::io::Write;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// A file for the ZIP: path, exec bit, content.
pub type ZipFile = (String, bool, Vec<u8>);

/// Writing a ZIP in memory failed (only on a bug in the zip crate).
#[derive(Debug, thiserror::Error)]
#[error("building the ZIP failed: {0}")]
pub struct ZipExportError(String);

/// Builds the ZIP of `files` (in any order).
pub fn build_zip(files: &mut [ZipFile]) -> Result<Vec<u8>, ZipExportError> {
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let err = |e: zip::result::ZipError| ZipExportError(e.to_string());
    let mut w = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, exec, content) in files.iter() {
        let opts = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(6))
            .last_modified_time(DateTime::default())
            .unix_permissions(if *exec { 0o755 } else { 0o644 });
        w.start_file(path.as_str(), opts).map_err(err)?;
        w.write_all(content)
            .map_err(|e| ZipExportError(e.to_string()))?;
    }
    Ok(w.finish().map_err(err)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::archive::{read_archive, IMPORT_LIMITS};

    #[test]
    fn deterministic_and_round_trips() {
        let mut a = vec![
            ("b/x.sh".to_string(), true, b"#!/bin/sh\n".to_vec()),
            ("a.md".to_string(), false, b"hi".to_vec()),
        ];
        let mut b = vec![a[1].clone(), a[0].clone()];
        let (za, zb) = (build_zip(&mut a).unwrap(), build_zip(&mut b).unwrap());
        assert_eq!(za, zb, "input order does not matter");
        let back = read_archive(&za, IMPORT_LIMITS).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back[0].path.as_str(), back[0].exec), ("a.md", false));
        assert_eq!(
            (
                back[1].path.as_str(),
                back[1].exec,
                back[1].content.as_slice()
            ),
            ("b/x.sh", true, &b"#!/bin/sh\n"[..])
        );
    }
}
