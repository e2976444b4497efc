//! The front door: every request enters `route`, which dispatches it to a
//! thin handler, turns every `ApiError` into a response in one place,
//! throttles repeated failed authentication, records the audit log and
//! leaves one structured log line (`request_log`).

use worker::{Context, Env, Request, Response, Result};

use super::auth::{require_admin, require_user};
use super::error::{ApiError, ApiResult};
use super::route::{area, Area, Audit, Route, Session};
use super::{admin, auth, hooks, json, me, served, store};
use crate::storage::audit::NewAuditEntry;
use crate::storage::Storage;

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
            .map(|b| crate::http::request_log::format_request_id(&b))
            .unwrap_or_else(|_| "unknown".into()),
    };
    // Whether the request presented credentials (a refusal of those is a
    // failed authentication), and from which client.
    let matched = Route::parse(method.as_ref(), &path);
    let presented = req.headers().has("Authorization").unwrap_or(false)
        || req
            .headers()
            .get("Cookie")
            .ok()
            .flatten()
            .is_some_and(|c| c.contains("mpe_session="))
        || matches!(matched, Some(Route::Session(Session::SignIn)));
    let client = req
        .headers()
        .get("CF-Connecting-IP")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".into());
    let recorded = matched.as_ref().map(Route::audit);
    let storage = Storage::from_env(&env);
    let result = match &storage {
        Ok(storage) => dispatch(req, &env, &ctx, storage, matched, &path, &request_id).await,
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
        if let Ok(storage) = &storage {
            resp = throttled(resp, storage, &env, &client, &request_id).await?;
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
    if let Ok(storage) = &storage {
        if let Some(Audit::Records(action)) = recorded {
            audit(storage, action, &path, resp.status_code(), &request_id).await;
        }
    }
    let resp_token = storage.as_ref().ok().and_then(Storage::used_token);
    let log = crate::http::request_log::RequestLog {
        request_id: &request_id,
        method: method.as_ref(),
        path: &path,
        status: resp.status_code(),
        user: storage.as_ref().ok().and_then(Storage::actor),
        bytes,
        ms: crate::storage::clock_ms() - started,
        cache: timing
            .as_deref()
            .and_then(crate::http::request_log::cache_layer),
        wasm_memory: crate::storage::timing::wasm_memory_bytes(),
    };
    worker::console_log!("{}", log.line());
    // A token's last use, recorded after the response (a token is noted
    // only once it authenticated someone).
    if let (Ok(storage), Some(hash)) = (storage, resp_token) {
        ctx.wait_until(async move {
            if let Err(e) = storage.touch_token(&hash).await {
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
    storage: &Storage,
    env: &Env,
    client: &str,
    request_id: &str,
) -> Result<Response> {
    match storage
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

/// Records a successful change (`action`, the route's, on `path`) in the
/// audit log, by whom (before the response goes, so a recorded change is
/// never missing from it). A change nobody authenticated for is nobody's (a
/// sign-out without a session): nothing is recorded.
async fn audit(storage: &Storage, action: &str, path: &str, status: u16, request_id: &str) {
    let (Some(actor), true) = (storage.actor_name(), status < 400) else {
        return;
    };
    let entry = NewAuditEntry {
        request_id,
        actor: &actor,
        actor_id: storage.actor(),
        action,
        target: path.strip_prefix("/api/").unwrap_or(path),
        status,
        detail: None,
    };
    if let Err(e) = storage.record_audit(&entry).await {
        log_failure(request_id, "audit", &e.to_string());
    }
}

/// Hands the matched route to its handler. An API path no route matches
/// is 404, after the authentication its area asks for (so it tells a
/// stranger nothing).
async fn dispatch(
    req: Request,
    env: &Env,
    ctx: &Context,
    storage: &Storage,
    route: Option<Route<'_>>,
    path: &str,
    request_id: &str,
) -> ApiResult {
    let Some(route) = route else {
        match area(path) {
            Area::Admin => {
                require_admin(&req, env, storage).await?;
            }
            Area::Member => {
                require_user(&req, env, storage).await?;
            }
            Area::Open => {}
        }
        return Err(ApiError::not_found(path));
    };
    match route {
        Route::Health => json(
            200,
            &serde_json::json!({ "ok": true, "agent": crate::git::AGENT }),
        ),
        Route::Git(rel) => served::git(req, env, ctx, storage, rel).await,
        Route::Info => served::info(req, env, storage).await,
        Route::Zip => served::zip(req, env, ctx, storage).await,
        Route::Session(op) => auth::session::route(req, env, storage, op).await,
        Route::Hook { slug } => hooks::hook(req, env, ctx, storage, slug, request_id).await,
        Route::Admin(r) => admin::route(req, env, storage, r).await,
        Route::Me(r) => me::route(req, env, storage, r).await,
        Route::Store(r) => store::route(req, env, storage, r).await,
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
