//! Archives being imported and packs being synced, staged in R2 under
//! `uploads/<random>`: a request body is piped there by the runtime (no
//! wasm work, no isolate memory); a fetched pack, of a length known only at
//! its end, is written in parts as it arrives (`StagedWriter`, an R2
//! multipart upload). Both are then read back as a stream or by ranges.
//!
//! Invariant: the import or sync deletes its staged copy when it ends,
//! whatever the outcome; one left by a process that died is collected by
//! `gc_entries` once older than its minimum age (an unfinished multipart
//! upload is no object at all: R2 drops it after a week).

use worker::{ByteStream, MultipartUpload, Range, UploadedPart};

use super::{r2_err, random_id, Storage, StorageError, StorageResult};

/// The size of every part of a staged write but the last (R2 wants parts
/// of at least 5 MiB, all but the last of one size): what the isolate
/// holds of a pack being fetched.
/// Where archives being imported are staged (see `stage_upload`).
pub const UPLOAD_PREFIX: &str = "uploads/";

pub const PART_BYTES: usize = 8 << 20;

/// An object being written to R2 in parts, as its bytes arrive; one that
/// ends before its first part is full never reaches R2 (`Staged::Memory`).
pub struct StagedWriter {
    /// The key and upload, once the first part is sent.
    upload: Option<(String, MultipartUpload)>,
    parts: Vec<UploadedPart>,
    buf: Vec<u8>,
    written: usize,
}

/// Where a staged write ended up.
pub enum Staged {
    /// Smaller than a part: kept, never written.
    Memory(Vec<u8>),
    /// In R2 under this key (the caller deletes it when done).
    R2(String),
}

impl StagedWriter {
    /// Bytes taken so far.
    pub fn taken(&self) -> usize {
        self.written + self.buf.len()
    }

    /// Takes the next bytes, sending every full part.
    pub async fn write(&mut self, storage: &Storage, mut bytes: &[u8]) -> StorageResult<()> {
        while !bytes.is_empty() {
            let room = PART_BYTES - self.buf.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            // A small pack stays small; a large one gets its part's
            // buffer once, rather than grown by doubling.
            if self.buf.len() + now.len() > (1 << 20) && self.buf.capacity() < PART_BYTES {
                self.buf.reserve_exact(PART_BYTES - self.buf.len());
            }
            self.buf.extend_from_slice(now);
            bytes = rest;
            if self.buf.len() == PART_BYTES {
                self.send_part(storage).await?;
            }
        }
        Ok(())
    }

    async fn send_part(&mut self, storage: &Storage) -> StorageResult<()> {
        let upload = match &self.upload {
            Some((_, upload)) => upload,
            None => {
                let key = upload_key()?;
                let upload = storage
                    .r2(storage.bucket.create_multipart_upload(&key).execute())
                    .await
                    .map_err(r2_err)?;
                &self.upload.insert((key, upload)).1
            }
        };
        let part = std::mem::take(&mut self.buf);
        self.written += part.len();
        let number = (self.parts.len() + 1) as u16;
        let uploaded = storage
            .r2(upload.upload_part(number, part))
            .await
            .map_err(r2_err)?;
        self.parts.push(uploaded);
        Ok(())
    }

    /// Ends the write: what fits one part stays in memory; anything larger
    /// gets its last part sent and its object completed.
    pub async fn finish(mut self, storage: &Storage) -> StorageResult<Staged> {
        if self.upload.is_none() {
            return Ok(Staged::Memory(self.buf));
        }
        if !self.buf.is_empty() {
            self.send_part(storage).await?;
        }
        let Some((key, upload)) = self.upload else {
            return Ok(Staged::Memory(self.buf));
        };
        storage
            .r2(upload.complete(self.parts))
            .await
            .map_err(r2_err)?;
        Ok(Staged::R2(key))
    }

    /// Gives the write up (failures are logged: R2 drops the parts anyway).
    pub async fn abort(self, storage: &Storage) {
        if let Some((key, upload)) = self.upload {
            if let Err(e) = storage.r2(upload.abort()).await {
                worker::console_error!("aborting the staged write of {key} failed: {e}");
            }
        }
    }
}

/// A new key under `uploads/`.
fn upload_key() -> StorageResult<String> {
    Ok(format!("{UPLOAD_PREFIX}{}", random_id()?))
}

impl Storage {
    /// Pipes a request body of known length into R2; its key.
    pub async fn stage_upload(
        &self,
        body: worker::web_sys::ReadableStream,
    ) -> StorageResult<String> {
        let key = upload_key()?;
        self.r2(self.bucket.put(&key, body).execute())
            .await
            .map_err(r2_err)?;
        Ok(key)
    }

    /// Starts an object under `uploads/` to be written in parts (nothing
    /// reaches R2 until a part is full).
    pub fn begin_staged(&self) -> StagedWriter {
        StagedWriter {
            upload: None,
            parts: Vec::new(),
            buf: Vec::new(),
            written: 0,
        }
    }

    /// Bytes `offset..offset + len` of object `key`.
    pub async fn get_range(&self, key: &str, offset: u64, len: u64) -> StorageResult<Vec<u8>> {
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
    pub async fn get_stream(&self, key: &str) -> StorageResult<ByteStream> {
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
    pub async fn delete_object(&self, key: &str) -> StorageResult<()> {
        self.r2(self.bucket.delete(key)).await.map_err(r2_err)
    }
}
