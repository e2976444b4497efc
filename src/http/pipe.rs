//! Sending a stored pack without touching its bytes: the request-specific
//! head goes into a stream first, then the runtime pipes the stored body
//! in after it. No wasm code runs per chunk, so a warm fetch costs what
//! streaming the object costs. With the body's length known, that stream
//! is the runtime's native `FixedLengthStream` (no JavaScript per chunk
//! either, and the client gets a `Content-Length`); without it, a standard
//! `TransformStream`, whose chunks pass through JavaScript queues.

use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{ReadableStream, TransformStream, WritableStream};
use worker::worker_sys::FixedLengthStream;
use worker::{Context, Response, ResponseBody};

fn js_err(e: JsValue) -> worker::Error {
    worker::Error::JsError(format!("{e:?}"))
}

/// A response body of `head` followed by `body` (which ends the response),
/// of `body_len` bytes when known.
pub fn head_then(
    ctx: &Context,
    head: Vec<u8>,
    body: ReadableStream,
    body_len: Option<u64>,
) -> worker::Result<Response> {
    let (readable, writable): (ReadableStream, WritableStream) = match body_len {
        Some(len) => {
            let total = head.len() as u64 + len;
            let fixed = if total < u32::MAX as u64 {
                FixedLengthStream::new(total as u32)
            } else {
                FixedLengthStream::new_big_int(worker::js_sys::BigInt::from(total))
            }
            .map_err(js_err)?;
            (fixed.readable(), fixed.writable())
        }
        None => {
            let identity = TransformStream::new().map_err(js_err)?;
            (identity.readable(), identity.writable())
        }
    };
    ctx.wait_until(async move {
        let piped: Result<(), JsValue> = async {
            let writer = writable.get_writer()?;
            JsFuture::from(writer.write_with_chunk(&Uint8Array::from(head.as_slice()))).await?;
            writer.release_lock();
            // Closes the writable (ends the response) when the body ends.
            JsFuture::from(body.pipe_to(&writable)).await?;
            Ok(())
        }
        .await;
        if let Err(e) = piped {
            // The client sees a truncated response, which git reports.
            worker::console_error!("piping a cached pack failed: {e:?}");
            let _ = JsFuture::from(writable.abort()).await;
        }
    });
    Response::from_body(ResponseBody::Stream(readable))
}
