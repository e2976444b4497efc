//! The HTTP layer (wasm32 only): routes each request to a thin handler that
//! delegates to the pure layers. Errors become responses in `error.rs` only.

mod error;
mod git;

use std::sync::OnceLock;

use worker::{Env, Method, Request, Response, Result};

use crate::demo::demo_repo;
use crate::git::memory::MemoryRepo;
use error::ApiError;

/// Where the engine's demo repository is served.
const DEMO_PREFIX: &str = "/demo.git";

fn demo() -> &'static MemoryRepo {
    static DEMO: OnceLock<MemoryRepo> = OnceLock::new();
    DEMO.get_or_init(demo_repo)
}

/// Routes one request.
pub async fn route(req: Request, _env: Env) -> Result<Response> {
    let path = req.path();
    if path == DEMO_PREFIX || path.starts_with("/demo.git/") {
        return git::serve(req, DEMO_PREFIX, demo()).await;
    }
    match (req.method(), path.as_str()) {
        (Method::Get | Method::Head, "/healthz") => {
            Response::from_json(&serde_json::json!({ "ok": true, "agent": crate::AGENT }))
        }
        _ => ApiError::not_found(&path).into_response(),
    }
}
