//! One producer, two consumers: the client's response body and a
//! fixed-length upload to R2, each behind a small bounded channel, so a
//! cache miss streams to both while memory holds a few chunks.
//!
//! Invariants: a consumer that went away is skipped from then on; an upload
//! is either fed every byte or sent an error (so R2 stores nothing partial).

use futures_channel::mpsc;
use futures_util::SinkExt;

/// Chunks in flight to the client before the producer waits.
const DEPTH: usize = 4;
/// Chunks in flight to R2: more, so a slow upload does not hold back the
/// client (at 128 KiB chunks, at most 4 MiB more memory).
const UPLOAD_DEPTH: usize = 32;

/// The producer's side of both channels.
pub struct Tee {
    client: Option<mpsc::Sender<Vec<u8>>>,
    r2: Option<mpsc::Sender<worker::Result<Vec<u8>>>>,
}

/// What the client's response and the R2 upload read from.
pub type ClientStream = mpsc::Receiver<Vec<u8>>;
pub type UploadStream = mpsc::Receiver<worker::Result<Vec<u8>>>;

impl Tee {
    /// A tee and the two streams it feeds.
    pub fn new() -> (Tee, ClientStream, UploadStream) {
        let (client, from_client) = mpsc::channel(DEPTH);
        let (r2, from_r2) = mpsc::channel(UPLOAD_DEPTH);
        let tee = Tee {
            client: Some(client),
            r2: Some(r2),
        };
        (tee, from_client, from_r2)
    }

    /// Whether the client is still reading.
    pub fn client_open(&self) -> bool {
        self.client.is_some()
    }

    /// Whether the upload is still reading.
    pub fn upload_open(&self) -> bool {
        self.r2.is_some()
    }

    /// Sends to the client (if still there).
    pub async fn send_client(&mut self, bytes: Vec<u8>) {
        if let Some(c) = self.client.as_mut() {
            if c.send(bytes).await.is_err() {
                self.client = None;
            }
        }
    }

    /// Sends to the upload (if still there).
    pub async fn send_upload(&mut self, bytes: Vec<u8>) {
        if let Some(r) = self.r2.as_mut() {
            if r.send(Ok(bytes)).await.is_err() {
                self.r2 = None;
            }
        }
    }

    /// Sends the same bytes to both; an error once nobody is reading.
    pub async fn send_both(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        if self.r2.is_some() {
            self.send_upload(bytes.clone()).await;
        }
        self.send_client(bytes).await;
        self.still_read()
    }

    /// An error once neither consumer is reading.
    pub fn still_read(&self) -> Result<(), String> {
        match (&self.client, &self.r2) {
            (None, None) => Err("both the client and R2 went away".into()),
            _ => Ok(()),
        }
    }

    /// Fails the upload so R2 stores nothing, and closes both channels.
    pub async fn abort_upload(&mut self, why: &str) {
        if let Some(mut r) = self.r2.take() {
            let _ = r.send(Err(worker::Error::from(why.to_string()))).await;
        }
    }

    /// Ends both streams; whether the upload read everything.
    pub fn close(self) -> bool {
        self.r2.is_some()
    }
}
