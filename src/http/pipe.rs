//! Sending a stored pack without touching its bytes: the request-specific
//! head goes into a stream first, then the runtime pipes the stored body
//! in after it. No wasm code runs per chunk, so a warm fetch costs what
//! streaming the object costs. With the body's length known, that stream
//! is the runtime's native `FixedLengthStream` (no JavaScript per chunk
//! either, and the client gets a `Content-Length`); without it, a standard
//! `TransformStream`, whose chunks pass through JavaScript queues.

use worker::js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{ReadableStream, TransformStream, WritableStream};
use worker::worker_sys::FixedLengthStream;
use worker::{Context, Response, ResponseBody};

fn js_err(e: JsValue) -> worker::Error {
    worker::Error::JsError(format!("{e:?}"))
}

/// A native stream of exactly `len` bytes: its readable (a response body
/// or an R2 upload with a known length) and its writable.
pub fn fixed_length(len: u64) -> worker::Result<(ReadableStream, WritableStream)> {
    let fixed = if len < u32::MAX as u64 {
        FixedLengthStream::new(len as u32)
    } else {
        FixedLengthStream::new_big_int(worker::js_sys::BigInt::from(len))
    }
    .map_err(js_err)?;
    Ok((fixed.readable(), fixed.writable()))
}

/// Writes `bytes` into `to` (which must be unlocked), waiting for it to
/// take them.
pub async fn write_all(to: &WritableStream, bytes: &[u8]) -> Result<(), JsValue> {
    if bytes.is_empty() {
        return Ok(());
    }
    write_js(to, &Uint8Array::from(bytes)).await
}

/// All of `from`, read by the runtime into one buffer outside wasm memory
/// (for a writer that costs per chunk, such as a digest stream).
pub async fn read_all(from: &ReadableStream) -> Result<Uint8Array, JsValue> {
    let response = worker::web_sys::Response::new_with_opt_readable_stream(Some(from))?;
    let buffer = JsFuture::from(response.array_buffer()?).await?;
    Ok(Uint8Array::new(&buffer))
}

/// Writes `chunk` (a buffer the runtime holds) into `to`, unlocked.
pub async fn write_js(to: &WritableStream, chunk: &Uint8Array) -> Result<(), JsValue> {
    let writer = to.get_writer()?;
    let written = JsFuture::from(writer.write_with_chunk(chunk)).await;
    writer.release_lock();
    written.map(|_| ())
}

/// Pipes all of `from` into `to` and leaves `to` open for what follows;
/// the runtime moves the bytes, no wasm runs per chunk.
pub async fn pipe_open(from: &ReadableStream, to: &WritableStream) -> Result<(), JsValue> {
    let options = Object::new();
    Reflect::set(&options, &"preventClose".into(), &JsValue::TRUE)?;
    // `pipeTo` with options, called by name: web-sys's binding for it needs
    // a feature `worker` does not enable.
    let pipe_to: Function = Reflect::get(from, &"pipeTo".into())?.dyn_into()?;
    let piped: Promise = pipe_to.call2(from, to, &options)?.dyn_into()?;
    JsFuture::from(piped).await.map(|_| ())
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
        Some(len) => fixed_length(head.len() as u64 + len)?,
        None => {
            let identity = TransformStream::new().map_err(js_err)?;
            (identity.readable(), identity.writable())
        }
    };
    ctx.wait_until(async move {
        let piped: Result<(), JsValue> = async {
            write_all(&writable, &head).await?;
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
