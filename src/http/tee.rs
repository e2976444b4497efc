//! One producer, two consumers: the client's response body and a
//! fixed-length upload to R2, each behind a bounded channel, so a cache
//! miss streams to both while memory holds at most a few MiB for the
//! client and 16 MiB for the upload.
//!
//! Invariants: a consumer that went away is skipped from then on; an upload
//! is either fed every byte or sent an error (so R2 stores nothing partial).

use futures_channel::mpsc;
use futures_util::SinkExt;

/// Messages in flight to the client before the producer waits.
const DEPTH: usize = 4;
/// Messages in flight to R2: many more (16 MiB, see `MAX_MESSAGE`), so the
/// client is not held to R2's write speed: under wrangler dev, local R2
/// writes at a few tens of MB/s, and with 4 MiB here a 27 MB cold fetch
/// took 985 ms where it streams in 254 ms without the upload; with 16 MiB,
/// 484 ms. Memory stays bounded by this, whatever the pack's size.
const UPLOAD_DEPTH: usize = 128;

/// The most bytes one message carries (a larger send is split), so the
/// depths above bound memory in bytes whatever a producer hands over (a
/// pack entry or a ZIP member can be megabytes).
const MAX_MESSAGE: usize = 128 << 10;

/// `bytes` in messages of at most `MAX_MESSAGE`.
fn pieces(bytes: Vec<u8>) -> Vec<Vec<u8>> {
    if bytes.len() <= MAX_MESSAGE {
        vec![bytes]
    } else {
        bytes.chunks(MAX_MESSAGE).map(<[u8]>::to_vec).collect()
    }
}

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
        for piece in pieces(bytes) {
            if let Some(c) = self.client.as_mut() {
                if c.send(piece).await.is_err() {
                    self.client = None;
                }
            }
        }
    }

    /// Sends to the upload (if still there).
    pub async fn send_upload(&mut self, bytes: Vec<u8>) {
        for piece in pieces(bytes) {
            if let Some(r) = self.r2.as_mut() {
                if r.send(Ok(piece)).await.is_err() {
                    self.r2 = None;
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_sends_are_split_into_bounded_messages_in_order() {
        let bytes: Vec<u8> = (0..(MAX_MESSAGE * 2 + 5)).map(|i| i as u8).collect();
        let split = pieces(bytes.clone());
        assert_eq!(
            split.iter().map(Vec::len).collect::<Vec<_>>(),
            [MAX_MESSAGE, MAX_MESSAGE, 5]
        );
        assert_eq!(split.concat(), bytes);
        assert_eq!(pieces(vec![1, 2, 3]), [vec![1, 2, 3]]);
        assert_eq!(pieces(Vec::new()), [Vec::<u8>::new()]);
    }
}
