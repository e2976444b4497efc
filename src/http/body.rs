//! Request bodies in (bounded: JSON, forms, raw), JSON and empty responses
//! out, and a request's query parameters.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Headers, Method, Request, Response};

use super::error::{ApiError, ApiResult};

/// Largest JSON request body.
const MAX_JSON_BYTES: usize = 64 << 10;

/// A JSON response.
pub(crate) fn json<T: Serialize>(status: u16, value: &T) -> ApiResult {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Response::from_bytes(body)?
        .with_status(status)
        .with_headers(headers))
}

/// A request's query parameters, read by name (empty values count as
/// absent).
pub(crate) struct Query(worker::Url);

impl Query {
    /// The request's query.
    pub fn of(req: &Request) -> std::result::Result<Query, ApiError> {
        Ok(Query(req.url()?))
    }

    /// Parameter `k`, if present and not empty.
    pub fn get(&self, k: &str) -> Option<String> {
        self.0
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    }

    /// Parameter `k` as a whole number from `min` to `max`, else `default`;
    /// 400 `bad_query` when it is something else.
    pub fn number(
        &self,
        k: &str,
        default: Option<i64>,
        min: i64,
        max: i64,
    ) -> std::result::Result<Option<i64>, ApiError> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .map(Some)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "bad_query",
                        format!("`{k}` must be a whole number from {min} to {max}"),
                    )
                }),
        }
    }
}

/// 204 No Content.
pub(crate) fn no_content() -> ApiResult {
    Ok(Response::empty()?.with_status(204))
}

/// Reads the body, refusing more than `limit` bytes: a declared length
/// before reading, and any body (chunked ones too) as soon as what arrived
/// passes the limit, so no request makes the Worker hold more than that.
/// Every route that takes a body reads it through here (imports stream
/// theirs to R2 under a declared length instead).
pub(crate) async fn read_body(
    req: &mut Request,
    limit: usize,
) -> std::result::Result<Vec<u8>, ApiError> {
    use futures_util::StreamExt;
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > limit) {
        return Err(ApiError::too_large(limit));
    }
    // A request without a body has no stream.
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new());
    };
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    let mut over = false;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        // Past the limit nothing more is kept, but the rest is read and
        // dropped: a response sent before its request body was consumed
        // makes the local runtime restart the Worker.
        over = over || body.len() + chunk.len() > limit;
        if !over {
            body.extend_from_slice(&chunk);
        }
    }
    if over {
        return Err(ApiError::too_large(limit));
    }
    Ok(body)
}

/// Reads a `multipart/form-data` body of at most `limit` bytes (see
/// `read_body`) and parses it.
pub(crate) async fn read_form(
    req: &mut Request,
    limit: usize,
) -> std::result::Result<worker::FormData, ApiError> {
    let bad =
        |e: String| ApiError::bad_request("bad_form", format!("expected multipart/form-data: {e}"));
    let ctype = req.headers().get("Content-Type")?.unwrap_or_default();
    let body = read_body(req, limit).await?;
    // The runtime parses forms from a request: one over the bytes read.
    let headers = Headers::new();
    headers.set("Content-Type", &ctype)?;
    let mut init = worker::RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(
            worker::js_sys::Uint8Array::from(body.as_slice()).into(),
        ));
    let mut parsed = Request::new_with_init("https://form.invalid/", &init)?;
    parsed.form_data().await.map_err(|e| bad(e.to_string()))
}

/// Reads and parses a JSON body.
pub(crate) async fn read_json<T: DeserializeOwned>(
    req: &mut Request,
) -> std::result::Result<T, ApiError> {
    let body = read_body(req, MAX_JSON_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad_json",
            format!("request body is not the expected JSON: {e}"),
        )
    })
}
