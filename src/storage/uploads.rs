//! Archives being imported, staged in R2 under `uploads/<random>`: the
//! request body is piped there by the runtime (no wasm work, no isolate
//! memory), then read back as a stream or by ranges.
//!
//! Invariant: the import deletes its staged copy when it ends, whatever the
//! outcome; one left by an import that died is collected by `gc_entries`
//! once older than its minimum age.

use worker::{ByteStream, Range};

use super::blobs::UPLOAD_PREFIX;
use super::{r2_err, StorageError, Store, StoreResult};

impl Store {
    /// Pipes a request body of known length into R2; its key.
    pub async fn stage_upload(&self, body: worker::web_sys::ReadableStream) -> StoreResult<String> {
        let mut id = [0u8; 16];
        getrandom::getrandom(&mut id)
            .map_err(|e| StorageError::Bucket(format!("no randomness for an upload key: {e}")))?;
        let key = format!(
            "{UPLOAD_PREFIX}{}",
            id.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        self.r2(self.bucket.put(&key, body).execute())
            .await
            .map_err(r2_err)?;
        Ok(key)
    }

    /// Bytes `offset..offset + len` of object `key`.
    pub async fn get_range(&self, key: &str, offset: u64, len: u64) -> StoreResult<Vec<u8>> {
        self.r2(async {
            let obj = self
                .bucket
                .get(key)
                .range(Range::OffsetWithLength {
                    offset,
                    length: len,
                })
                .execute()
                .await
                .map_err(r2_err)?
                .ok_or_else(|| StorageError::Corrupt(format!("R2 object {key} is missing")))?;
            match obj.body() {
                Some(body) => body.bytes().await.map_err(r2_err),
                None => Ok(Vec::new()),
            }
        })
        .await
    }

    /// Object `key` as a stream of chunks.
    pub async fn get_stream(&self, key: &str) -> StoreResult<ByteStream> {
        let obj = self
            .r2(self.bucket.get(key).execute())
            .await
            .map_err(r2_err)?
            .ok_or_else(|| StorageError::Corrupt(format!("R2 object {key} is missing")))?;
        obj.body()
            .ok_or_else(|| StorageError::Corrupt(format!("R2 object {key} has no body")))?
            .stream()
            .map_err(r2_err)
    }

    /// Deletes object `key` (absent is fine).
    pub async fn delete_object(&self, key: &str) -> StoreResult<()> {
        self.r2(self.bucket.delete(key)).await.map_err(r2_err)
    }
}
