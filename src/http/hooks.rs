//! `POST /api/hooks/{slug}`: a push webhook from the upstream's host that
//! syncs the marketplace at once. GitHub signs the body
//! (`X-Hub-Signature-256`), GitLab sends the shared token
//! (`X-Gitlab-Token`); the secret is the Worker secret the source names.
//!
//! Invariant: nothing happens without a valid signature (401, the same
//! answer whether the marketplace, its webhook secret or the signature is
//! what is missing, so the route reveals nothing); the sync runs after the
//! response, as hosts expect an answer within seconds.

use serde_json::json;
use worker::{Context, Env, Request};

use super::error::{ApiError, ApiResult};
use super::sync::Trigger;
use super::{json, read_body};
use crate::catalog::auth::webhook::{github_signature_valid, gitlab_token_valid};
use crate::storage::Storage;

/// Largest webhook body read (GitHub caps payloads at 25 MB; the push
/// events that matter are far smaller).
const MAX_HOOK_BYTES: usize = 1 << 20;

/// Verifies the webhook, then syncs `slug` after answering 202.
pub async fn hook(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    storage: &Storage,
    slug: &str,
    request_id: &str,
) -> ApiResult {
    let body = read_body(&mut req, MAX_HOOK_BYTES).await?;
    let refused = || {
        ApiError::new(
            401,
            "bad_signature",
            "the webhook's signature or token is missing or wrong",
        )
    };
    let secret = match storage.source(slug).await?.and_then(|s| s.webhook_secret) {
        // Only an `UPSTREAM_…` secret is ever read (see `upstream_secret`).
        Some(name) => super::sync::upstream_secret(env, &name).map_err(|_| refused())?,
        None => return Err(refused()),
    };
    let headers = req.headers();
    let valid = match (
        headers.get("X-Hub-Signature-256")?,
        headers.get("X-Gitlab-Token")?,
    ) {
        (Some(sig), _) => github_signature_valid(&secret, &body, &sig),
        (None, Some(token)) => gitlab_token_valid(&secret, &token),
        (None, None) => false,
    };
    if !valid {
        return Err(refused());
    }
    let (env, slug_owned, request_id) = (env.clone(), slug.to_string(), request_id.to_string());
    ctx.wait_until(async move {
        let result = async {
            let storage = Storage::from_env(&env)?;
            super::sync::sync(&env, &storage, &slug_owned, Trigger::Webhook(&request_id)).await
        }
        .await;
        match result {
            Ok(state) => worker::console_log!(
                "webhook sync of {slug_owned}: serving {}",
                state["upstream_commit"]
            ),
            Err(e) => {
                worker::console_error!("webhook sync of {slug_owned}: {} ({})", e.message, e.code)
            }
        }
    });
    json(202, &json!({ "accepted": true, "slug": slug }))
}
