//! `/api/admin/review…` and `/api/admin/settings/store-review`: the review
//! mode, the queue of Store versions waiting, and decisions on them.

use serde::Deserialize;
use serde_json::json;
use worker::Request;

use crate::catalog::review::{decide, Decision, ReviewError, ReviewMode};
use crate::http::error::{ApiError, ApiResult};
use crate::http::route::Review;
use crate::http::{json, read_json};
use crate::storage::Storage;

#[derive(Deserialize)]
struct ModeBody {
    mode: String,
}

#[derive(Deserialize)]
struct DecisionBody {
    decision: String,
    #[serde(default)]
    reason: String,
}

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> Self {
        let status = match e {
            ReviewError::NotPending(_) => 409,
            ReviewError::OwnEntry => 403,
            ReviewError::NoReason => 400,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// A path number, or 400 `code`.
fn number(text: &str, code: &'static str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(code, format!("`{text}` is not a number")))
}

/// Answers one `Review` route.
pub(super) async fn route(mut req: Request, storage: &Storage, route: Review<'_>) -> ApiResult {
    match route {
        Review::Mode => json(
            200,
            &json!({ "mode": storage.review_mode().await?.as_str() }),
        ),
        Review::SetMode => {
            let body: ModeBody = read_json(&mut req).await?;
            let mode = ReviewMode::parse(&body.mode).ok_or_else(|| {
                ApiError::bad_request(
                    "bad_review_mode",
                    format!(
                        "mode must be `off`, `executable` or `all`, not `{}`",
                        body.mode
                    ),
                )
            })?;
            storage.set_review_mode(mode).await?;
            json(200, &json!({ "mode": mode.as_str() }))
        }
        Review::Queue => json(200, &json!({ "versions": storage.review_queue().await? })),
        Review::Decide { id, version } => {
            let (id, version) = (number(id, "bad_id")?, number(version, "bad_version")?);
            let body: DecisionBody = read_json(&mut req).await?;
            let decision = Decision::parse(&body.decision).ok_or_else(|| {
                ApiError::bad_request(
                    "bad_decision",
                    format!(
                        "decision must be `approve` or `reject`, not `{}`",
                        body.decision
                    ),
                )
            })?;
            let Some((status, pending)) = storage.pending_version(id, version).await? else {
                return Err(ApiError::missing(format!(
                    "version {version} of Store entity {id}"
                )));
            };
            let owns = storage.actor() == Some(pending.owner_id);
            let reason = body.reason.trim();
            let to = decide(status, decision, owns, reason)?;
            let reviewer = storage.actor_name().unwrap_or_else(|| "ADMIN_TOKEN".into());
            if !storage
                .decide_version(id, version, &pending, to, &reviewer, reason)
                .await?
            {
                return Err(ReviewError::NotPending("decided already").into());
            }
            json(
                200,
                &json!({ "entity_id": id, "version": version, "status": to.as_str(), "reason": reason, "reviewed_by": reviewer }),
            )
        }
    }
}
