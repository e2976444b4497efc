//! `/api/admin/store…`: Store moderation (unpublishing and restoring
//! entries, and the list of unpublished ones).

use serde_json::json;
use worker::{Env, Method, Request};

use super::{newest_first, next_page};
use crate::http::error::{ApiError, ApiResult};
use crate::http::route::Moderation;
use crate::http::{json, no_content, Query};
use crate::storage::Storage;

/// Answers one `Moderation` route.
pub(super) async fn route(
    req: Request,
    _env: &Env,
    storage: &Storage,
    route: Moderation<'_>,
) -> ApiResult {
    match route {
        Moderation::Unpublished => {
            let (before, limit) = newest_first(&Query::of(&req)?)?;
            let entities = storage.unpublished_entities(before, limit).await?;
            let next = next_page(&entities, limit, |e| e.id);
            json(200, &json!({ "entities": entities, "next_before": next }))
        }
        Moderation::Unpublish { id } | Moderation::Restore { id } => {
            // The emergency brake: the entity leaves every stack and the
            // Store on the next request; restoring brings it back.
            let id: i64 = id.parse().map_err(|_| {
                ApiError::bad_request("bad_id", format!("`{id}` is not an entity id"))
            })?;
            if storage
                .set_unpublished(id, req.method() == Method::Put)
                .await?
            {
                no_content()
            } else {
                Err(ApiError::missing(format!("Store entity {id}")))
            }
        }
    }
}
