//! `/api/admin/audit`: the audit log, newest first, filtered and paged.

use serde_json::json;
use worker::Request;

use super::{newest_first, next_page};
use crate::http::error::ApiResult;
use crate::http::{json, Query};
use crate::storage::audit::AuditQuery;
use crate::storage::Storage;

/// Answers `GET /api/admin/audit`.
pub(super) async fn route(req: Request, storage: &Storage) -> ApiResult {
    let query = Query::of(&req)?;
    let (before, limit) = newest_first(&query)?;
    let (actor, action) = (query.get("actor"), query.get("action"));
    let entries = storage
        .audit_page(&AuditQuery {
            actor: actor.as_deref(),
            action: action.as_deref(),
            before,
            limit,
        })
        .await?;
    let next = next_page(&entries, limit, |e| e.id);
    json(200, &json!({ "entries": entries, "next_before": next }))
}
