//! `/api/admin/review…` and `/api/admin/settings/store-review`: the review
//! mode, the queue of Store versions waiting, and decisions on them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use worker::Request;

use crate::catalog::line_diff::{line_diff, too_large, FileDiff, MAX_DIFF_BYTES};
use crate::catalog::review::{decide, diff_files, Decision, ReviewError, ReviewMode, VersionFile};
use crate::catalog::served::ServedFile;
use crate::http::error::{ApiError, ApiResult};
use crate::http::route::Review;
use crate::http::{json, read_json};
use crate::storage::entries::EntryReader;
use crate::storage::store_review::ReviewFiles;
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
        Review::Count => json(200, &json!({ "waiting": storage.review_count().await? })),
        Review::Diff { id, version } => {
            let (id, version) = (number(id, "bad_id")?, number(version, "bad_version")?);
            let files = storage.review_files(id, version).await?.ok_or_else(|| {
                ApiError::missing(format!("version {version} of Store entity {id}"))
            })?;
            json(
                200,
                &json!({ "entity_id": id, "version": version, "status": files.status, "files": file_diffs(storage, &files).await? }),
            )
        }
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

/// Most files of one version given a line diff; the rest are named only.
const MAX_DIFFED_FILES: usize = 50;

/// Files by path, borrowed.
fn by_path(list: &[ServedFile]) -> BTreeMap<&str, &ServedFile> {
    list.iter().map(|f| (f.path.as_str(), f)).collect()
}

/// Each file the version adds, removes or changes, with its line diff
/// against the served version.
async fn file_diffs(storage: &Storage, files: &ReviewFiles) -> Result<Vec<Value>, ApiError> {
    let (old, new) = (by_path(&files.current), by_path(&files.files));
    let as_versions = |list: &[ServedFile]| list.iter().map(VersionFile::from).collect::<Vec<_>>();
    let changes = diff_files(&as_versions(&files.current), &as_versions(&files.files));
    let mut reader = EntryReader::new(storage);
    let mut out = Vec::with_capacity(changes.len());
    for (i, change) in changes.iter().enumerate() {
        let (before, after) = (
            old.get(change.path.as_str()).copied(),
            new.get(change.path.as_str()).copied(),
        );
        let too_big = [before, after]
            .into_iter()
            .flatten()
            .any(|f| f.size as usize > MAX_DIFF_BYTES);
        let diff = if i >= MAX_DIFFED_FILES {
            FileDiff::Unshown {
                why: format!(
                    "only the first {MAX_DIFFED_FILES} changed files are shown line by line"
                ),
            }
        } else if too_big {
            // Not read at all: `line_diff` would refuse it anyway.
            too_large()
        } else {
            let mut read = async |f: Option<&ServedFile>| -> Result<Vec<u8>, ApiError> {
                Ok(match f {
                    Some(f) => reader.content(f).await?,
                    None => Vec::new(),
                })
            };
            let before = read(before).await?;
            let after = read(after).await?;
            line_diff(&before, &after)
        };
        out.push(json!({ "path": change.path, "change": change.change, "size": change.size, "diff": diff }));
    }
    Ok(out)
}
