//! The HTTP layer (wasm32 only): routes each request to a thin handler that
//! delegates to storage and the pure layers. Handlers return `ApiResult`;
//! `route` turns every `ApiError` into a response in one place.

mod admin;
mod auth;
mod cf_access;
mod error;
mod git;
mod hooks;
mod import;
mod me;
mod native_sha1;
mod pack_stream;
mod pipe;
mod remote;
mod served;
mod session;
mod store;
mod sync;
mod tee;
mod view;
mod zip_stream;

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Context, Env, Headers, Method, Request, Response, Result};

use crate::storage::Store;
use error::{ApiError, ApiResult};

/// Where each user's marketplace is served.
const MARKETPLACE_PREFIX: &str = "/marketplace.git";
/// Largest JSON request body.
const MAX_JSON_BYTES: usize = 64 << 10;

/// Routes one request; every error becomes a response here, and every
/// request leaves one structured log line (`request_log`).
pub async fn route(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let started = crate::storage::clock_ms();
    let (method, path) = (req.method(), req.path());
    // Cloudflare's own id for the request when there is one, so our log
    // lines and Cloudflare's agree.
    let request_id = match req.headers().get("cf-ray").ok().flatten() {
        Some(ray) => ray,
        None => auth::random_bytes::<8>()
            .map(|b| crate::request_log::format_request_id(&b))
            .unwrap_or_else(|_| "unknown".into()),
    };
    // Whether the request presented credentials (a refusal of those is a
    // failed authentication), and from which client.
    let presented = req.headers().has("Authorization").unwrap_or(false)
        || req
            .headers()
            .get("Cookie")
            .ok()
            .flatten()
            .is_some_and(|c| c.contains("mpe_session="))
        || (method == Method::Post && path == "/api/session");
    let client = req
        .headers()
        .get("CF-Connecting-IP")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".into());
    let store = Store::from_env(&env);
    let result = match &store {
        Ok(store) => dispatch(req, &env, &ctx, store, &path).await,
        Err(e) => Err(ApiError::internal(format!("opening storage failed: {e}"))),
    };
    let mut resp = match result {
        Ok(resp) => resp,
        // Our failure: the details go to the log, the client gets the id.
        Err(e) if e.status == 500 => {
            log_failure(&request_id, e.code, &e.message);
            ApiError::new(
                500,
                e.code,
                format!("internal error; your administrator can find what happened in the Worker's logs under request id {request_id}"),
            )
            .into_response()?
        }
        Err(e) => e.into_response()?,
    };
    // Repeated failed authentication from one client is throttled; only
    // refusals are counted, so a successful request is never slowed.
    if resp.status_code() == 401 && presented {
        if let Ok(store) = &store {
            resp = throttled(resp, store, &env, &client, &request_id).await?;
        }
    }
    // No response of ours is ever to be sniffed into HTML by a browser.
    let _ = resp.headers_mut().set("X-Content-Type-Options", "nosniff");
    let _ = resp.headers_mut().set("X-Request-Id", &request_id);
    let timing = resp.headers().get("Server-Timing").ok().flatten();
    let bytes = match resp.body() {
        worker::ResponseBody::Body(b) => Some(b.len() as u64),
        _ => resp
            .headers()
            .get("Content-Length")
            .ok()
            .flatten()
            .and_then(|l| l.parse().ok()),
    };
    if let Ok(store) = &store {
        audit(
            store,
            method.as_ref(),
            &path,
            resp.status_code(),
            &request_id,
        )
        .await;
    }
    let resp_token = store.as_ref().ok().and_then(Store::used_token);
    let log = crate::request_log::RequestLog {
        request_id: &request_id,
        method: method.as_ref(),
        path: &path,
        status: resp.status_code(),
        user: store.as_ref().ok().and_then(Store::actor),
        bytes,
        ms: crate::storage::clock_ms() - started,
        cache: timing.as_deref().and_then(crate::request_log::cache_layer),
        wasm_memory: crate::timing::wasm_memory_bytes(),
    };
    worker::console_log!("{}", log.line());
    // A token's last use, recorded after the response (a token is noted
    // only once it authenticated someone).
    if let (Ok(store), Some(hash)) = (store, resp_token) {
        ctx.wait_until(async move {
            if let Err(e) = store.touch_token(&hash).await {
                worker::console_error!("recording a token's use failed: {e}");
            }
        });
    }
    Ok(resp)
}

/// Logs a failure of ours (the cause stays in the log; see `route`).
fn log_failure(request_id: &str, error: &str, detail: &str) {
    worker::console_error!(
        "{}",
        serde_json::json!({ "request_id": request_id, "error": error, "detail": detail })
    );
}

/// A refusal of presented credentials, counted against `client`; past the
/// limit it becomes 429 `too_many_failures` with `Retry-After`.
async fn throttled(
    resp: Response,
    store: &Store,
    env: &Env,
    client: &str,
    request_id: &str,
) -> Result<Response> {
    match store
        .count_auth_failure(client, auth_failure_limit(env))
        .await
    {
        Ok(Some(retry_after)) => {
            let mut resp = ApiError::new(
                429,
                "too_many_failures",
                format!("too many failed sign-ins from your address; try again in {retry_after} s"),
            )
            .into_response()?;
            let _ = resp
                .headers_mut()
                .set("Retry-After", &retry_after.to_string());
            Ok(resp)
        }
        Ok(None) => Ok(resp),
        Err(e) => {
            log_failure(request_id, "throttle", &e.to_string());
            Ok(resp)
        }
    }
}

/// Records a successful change in the audit log, by whom (before the
/// response goes, so a recorded change is never missing from it). A change
/// nobody authenticated for is nobody's (a sign-out without a session):
/// nothing is recorded.
async fn audit(store: &Store, method: &str, path: &str, status: u16, request_id: &str) {
    let (Some(action), Some(actor), true) = (
        crate::audit::action(method, path),
        store.actor_name(),
        status < 400,
    ) else {
        return;
    };
    if let Err(e) = store
        .record_audit(
            request_id,
            &actor,
            store.actor(),
            action.name,
            &action.target,
            status,
        )
        .await
    {
        log_failure(request_id, "audit", &e.to_string());
    }
}

async fn dispatch(req: Request, env: &Env, ctx: &Context, store: &Store, path: &str) -> ApiResult {
    if matches!(
        (req.method(), path),
        (Method::Get | Method::Head, "/healthz")
    ) {
        return json(
            200,
            &serde_json::json!({ "ok": true, "agent": crate::AGENT }),
        );
    }
    if let Some(rel) = path.strip_prefix(MARKETPLACE_PREFIX) {
        if rel.is_empty() || rel.starts_with('/') {
            return served::git(req, env, ctx, store, rel).await;
        }
    }
    match (req.method(), path) {
        (Method::Get, "/marketplace/info") => return served::info(req, env, store).await,
        (Method::Get | Method::Head, "/marketplace.zip") => {
            return served::zip(req, env, ctx, store).await
        }
        _ => {}
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["api", "session"] => session::route(req, env, store).await,
        ["api", "hooks", slug] if req.method() == Method::Post => {
            hooks::hook(req, env, ctx, store, slug).await
        }
        ["api", "admin", rest @ ..] => admin::route(req, env, store, rest).await,
        ["api", "me", rest @ ..] => me::route(req, env, store, rest).await,
        ["api", "store", rest @ ..] => store::route(req, env, store, rest).await,
        _ => Err(ApiError::not_found(path)),
    }
}

/// Failed authentications a client may make per minute before 429
/// (`AUTH_FAILURE_LIMIT`, 10 by default).
fn auth_failure_limit(env: &Env) -> i64 {
    env.var("AUTH_FAILURE_LIMIT")
        .ok()
        .and_then(|v| v.to_string().parse().ok())
        .filter(|n: &i64| *n > 0)
        .unwrap_or(10)
}

/// The cron job that syncs every upstream source (see `wrangler.toml`).
pub async fn scheduled_sync(env: &Env) {
    match Store::from_env(env) {
        Ok(store) => sync::sync_all(env, &store).await,
        Err(e) => worker::console_error!("scheduled sync failed: {e}"),
    }
}

/// The daily cron job: garbage collection with its safe defaults (orphaned
/// entries older than an hour, packs idle for 30 days, advertisements out
/// of their window). Logs one line.
pub async fn scheduled_gc(env: &Env) {
    let result = async {
        let store = Store::from_env(env)?;
        // Advertisements first: the retired rows they drop free entries.
        store
            .gc_advertisements(view::advertisement_window(env))
            .await?;
        let entries = store.gc_entries(3600).await?;
        let packs = store.gc_packs(30 * 24 * 3600).await?;
        let sessions = store.gc_sessions().await?;
        store.gc_auth_failures().await?;
        Ok::<_, crate::storage::StorageError>((entries, packs, sessions))
    }
    .await;
    match result {
        Ok((Some((entries, kept)), packs, sessions)) => worker::console_log!(
            "scheduled gc: deleted {entries} entries objects (kept {kept}), {packs} idle packs and {sessions} ended sessions"
        ),
        Ok((None, packs, sessions)) => worker::console_log!(
            "scheduled gc: entries deferred to a writer in progress; deleted {packs} idle packs and {sessions} ended sessions"
        ),
        Err(e) => worker::console_error!("scheduled gc failed: {e}"),
    }
}

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
