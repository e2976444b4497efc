//! SHA-1 by the runtime (`crypto.DigestStream`, native code) for a pack's
//! checksum on a cache miss: the one hash over every byte of the pack,
//! which in wasm was the largest named cost of a cold fetch (a CPU profile
//! through `scripts/profile.mjs`). Each chunk is copied into the runtime
//! once, as it is for the client and R2 anyway.

use worker::js_sys::{ArrayBuffer, Promise, Uint8Array};
use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::WritableStream;

use super::pipe::write_all;

#[wasm_bindgen]
extern "C" {
    /// workerd's `crypto.DigestStream`: a writable stream whose `digest`
    /// resolves once it is closed.
    #[wasm_bindgen(js_namespace = crypto, extends = WritableStream)]
    type DigestStream;

    #[wasm_bindgen(constructor, js_namespace = crypto, catch)]
    fn new(algorithm: &str) -> Result<DigestStream, JsValue>;

    #[wasm_bindgen(method, getter)]
    fn digest(this: &DigestStream) -> Promise;
}

fn js_err(e: JsValue) -> worker::Error {
    worker::Error::JsError(format!("native SHA-1: {e:?}"))
}

/// A running SHA-1 computed by the runtime. Bytes go in from wasm
/// (`update`) or piped by the runtime into `writable` (pack segments).
pub struct NativeSha1 {
    stream: DigestStream,
}

impl NativeSha1 {
    /// Starts a digest.
    pub fn new() -> worker::Result<Self> {
        let stream = DigestStream::new("SHA-1").map_err(js_err)?;
        Ok(NativeSha1 { stream })
    }

    /// Hashes `bytes` next.
    pub async fn update(&mut self, bytes: &[u8]) -> worker::Result<()> {
        write_all(self.writable(), bytes).await.map_err(js_err)
    }

    /// The stream to pipe bytes into (unlocked between `update`s).
    pub fn writable(&self) -> &WritableStream {
        &self.stream
    }

    /// The digest of everything hashed.
    pub async fn finish(self) -> worker::Result<[u8; 20]> {
        JsFuture::from(self.stream.close()).await.map_err(js_err)?;
        let digest = JsFuture::from(self.stream.digest()).await.map_err(js_err)?;
        if !digest.is_instance_of::<ArrayBuffer>() {
            return Err(js_err(digest));
        }
        let bytes = Uint8Array::new(&digest).to_vec();
        bytes
            .try_into()
            .map_err(|b: Vec<u8>| worker::Error::RustError(format!("a SHA-1 of {} bytes", b.len())))
    }
}
