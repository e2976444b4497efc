//! Sending a stored pack without touching its bytes: the request-specific
//! head goes into an identity `TransformStream`, then the runtime pipes the
//! R2 body in after it. No wasm code runs per chunk, so a warm fetch costs
//! what streaming the object costs.

use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{ReadableStream, TransformStream};
use worker::{Context, Response, ResponseBody};

fn js_err(e: JsValue) -> worker::Error {
    worker::Error::JsError(format!("{e:?}"))
}

/// A response body of `head` followed by `body` (which ends the response).
pub fn head_then(ctx: &Context, head: Vec<u8>, body: ReadableStream) -> worker::Result<Response> {
    let identity = TransformStream::new().map_err(js_err)?;
    let (readable, writable) = (identity.readable(), identity.writable());
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
