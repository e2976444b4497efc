//! R2 objects, the primitives: whole writes and reads, streamed bodies,
//! and listing a prefix. The files that own a prefix (`entries`,
//! `pack_cache`, `uploads`, `gc`) build on these.

use super::{r2_err, Storage, StorageResult};

impl Storage {
    /// Writes an R2 object.
    pub async fn put_object(&self, key: &str, bytes: Vec<u8>) -> StorageResult<()> {
        self.r2(self.bucket.put(key, bytes).execute())
            .await
            .map_err(r2_err)?;
        Ok(())
    }

    /// Writes an R2 object from a stream of known length.
    pub async fn put_stream(
        &self,
        key: &str,
        body: worker::FixedLengthStream,
    ) -> StorageResult<()> {
        self.r2(self.bucket.put(key, body).execute())
            .await
            .map_err(r2_err)?;
        Ok(())
    }

    /// A whole R2 object, if present.
    pub async fn get_object(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        // One round trip: the body streams in on the same request.
        self.r2(async {
            match self.bucket.get(key).execute().await.map_err(r2_err)? {
                None => Ok(None),
                Some(obj) => match obj.body() {
                    Some(body) => Ok(Some(body.bytes().await.map_err(r2_err)?)),
                    None => Ok(Some(Vec::new())),
                },
            }
        })
        .await
    }

    /// Object `key`'s body, untouched for the runtime to pipe, and its size.
    pub async fn object_body(
        &self,
        key: &str,
    ) -> StorageResult<Option<(worker::web_sys::ReadableStream, u64)>> {
        let Some(obj) = self
            .r2(self.bucket.get(key).execute())
            .await
            .map_err(r2_err)?
        else {
            return Ok(None);
        };
        let size = obj.size();
        match obj.body().map(|b| b.response_body()).transpose() {
            Ok(Some(worker::ResponseBody::Stream(s))) => Ok(Some((s, size))),
            Ok(_) => Ok(None),
            Err(e) => Err(r2_err(e)),
        }
    }

    /// Every object under `prefix`, with its upload time (ms), page by page.
    pub(super) async fn list_keys(&self, prefix: &str) -> StorageResult<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut list = self.bucket.list().prefix(prefix).limit(1000);
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            }
            let page = self.r2(list.execute()).await.map_err(r2_err)?;
            out.extend(
                page.objects()
                    .iter()
                    .map(|o| (o.key(), o.uploaded().as_millis())),
            );
            match (page.truncated(), page.cursor()) {
                (true, Some(c)) => cursor = Some(c),
                _ => return Ok(out),
            }
        }
    }
}
