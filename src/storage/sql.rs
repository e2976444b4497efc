//! Small pieces every query shares: arguments (`s`, `n`), the clock,
//! random ids, and stored file rows in and out of D1.

use wasm_bindgen::JsValue;

use super::{StorageError, StorageResult};
use crate::catalog::names::PluginKey;
use crate::catalog::served::{EntryRef, FileSource, ServedFile};
use crate::git::{ObjectId, RepoPath};

/// File rows as one JSON argument for `file_rows_from_json`:
/// `[[path, size, sha256, blob_id, exec, entry_offset, entry_len, object], …]`.
pub(crate) fn file_rows_json(files: &[ServedFile]) -> String {
    let rows: Vec<serde_json::Value> = files
        .iter()
        .filter_map(|f| {
            let FileSource::Entry { entry, object } = &f.source else {
                return None;
            };
            Some(serde_json::json!([
                f.path.as_str(),
                f.size,
                f.sha256,
                f.blob.to_hex(),
                f.exec as i64,
                entry.offset,
                entry.len,
                object
            ]))
        })
        .collect();
    serde_json::to_string(&rows).unwrap_or_default()
}

/// File rows that `file_rows_json` wrote, read back in Rust.
pub(crate) fn files_from_json(rows: &[serde_json::Value]) -> StorageResult<Vec<ServedFile>> {
    rows.iter()
        .map(|r| {
            let text = |i: usize| r.get(i).and_then(|v| v.as_str());
            let int = |i: usize| r.get(i).and_then(|v| v.as_i64());
            match (
                text(0),
                int(1),
                text(2),
                text(3),
                int(4),
                int(5),
                int(6),
                text(7),
            ) {
                (
                    Some(path),
                    Some(size),
                    Some(sha),
                    Some(blob),
                    Some(exec),
                    Some(off),
                    Some(len),
                    Some(object),
                ) => served_file(path, size, sha, blob, exec, off, len, object),
                _ => Err(StorageError::Corrupt(format!("a stored file row: {r}"))),
            }
        })
        .collect()
}

/// The columns `path, size, sha256, blob_id, exec, entry_offset, entry_len`
/// (and, `with_object`, the entries object's key) selected from the JSON
/// argument `?{n}` made by `file_rows_json`.
pub(crate) fn file_rows_from_json(n: u8, with_object: bool) -> String {
    file_rows_from(&format!("?{n}"), with_object)
}

/// As `file_rows_from_json`, from the JSON that SQL expression `source`
/// gives (an argument, or a stored version's `files_json`).
pub(crate) fn file_rows_from(source: &str, with_object: bool) -> String {
    let object = if with_object {
        ", json_extract(value, '$[7]')"
    } else {
        ""
    };
    format!(
        "json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), \
         json_extract(value, '$[4]'), json_extract(value, '$[5]'), json_extract(value, '$[6]'){object} FROM json_each({source})"
    )
}

/// Reads a column that holds JSON, in either form D1 hands it over: as
/// text (a query's column) or as JSON (inside a row SQLite built with
/// `json_object`, which keeps it JSON). NULL or absent gives the default.
pub(crate) fn json_column<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    use serde::de::Error;
    use serde::Deserialize;
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(serde_json::Value::String(text)) => {
            serde_json::from_str(&text).map_err(D::Error::custom)
        }
        Some(json) => serde_json::from_value(json).map_err(D::Error::custom),
    }
}

/// A stored file row as a served file whose entry lies in R2 object `object`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn served_file(
    path: &str,
    size: i64,
    sha256: &str,
    blob_id: &str,
    exec: i64,
    offset: i64,
    len: i64,
    object: &str,
) -> StorageResult<ServedFile> {
    let corrupt = |what: &str| StorageError::Corrupt(format!("{what} of {path} in {object}"));
    Ok(ServedFile {
        path: RepoPath::parse(path).map_err(|_| corrupt("path"))?,
        size: size as u64,
        sha256: sha256.to_string(),
        blob: ObjectId::from_hex(blob_id.as_bytes()).map_err(|_| corrupt("blob id"))?,
        exec: exec != 0,
        source: FileSource::Entry {
            object: object.to_string(),
            entry: EntryRef {
                offset: offset as u64,
                len: len as u64,
            },
        },
    })
}

/// A stored `(marketplace, plugin)` pair as a key; a bad name is corrupt data.
pub(crate) fn key(slug: &str, plugin: &str) -> StorageResult<PluginKey> {
    PluginKey::parse(slug, plugin).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// A text argument.
pub(crate) fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

/// A text argument that may be NULL.
pub(crate) fn opt(v: &Option<String>) -> JsValue {
    v.as_deref().map(s).unwrap_or(JsValue::NULL)
}

/// An integer argument (D1 numbers are JS numbers: exact to 2^53).
pub(crate) fn n(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}

/// Seconds since the Unix epoch (the isolate's clock).
pub fn now() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

/// `N` random bytes from the platform's generator: the one source of every
/// id and secret (tokens, sessions, request, writer and lease ids).
pub fn random_bytes<const N: usize>() -> StorageResult<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).map_err(|e| StorageError::Db(format!("no randomness: {e}")))?;
    Ok(out)
}

/// A random 24-hex-digit id (a writer's, a lease holder's).
pub(crate) fn random_id() -> StorageResult<String> {
    Ok(crate::git::hex::encode(&random_bytes::<12>()?))
}
