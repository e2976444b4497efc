//! `/api/store/entities/{id}/versions…`: an entry's kept versions, and
//! restoring an earlier one (its owner or an admin).

use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::json;
use crate::http::route::Store;
use crate::storage::store::EntityRow;
use crate::storage::store_versions::{Restored, KEPT_VERSIONS};
use crate::storage::users::UserRow;
use crate::storage::Storage;

/// Answers `Store::Versions` and `Store::Restore` for entity `e`, which
/// `user` may see.
pub(super) async fn route(
    storage: &Storage,
    user: &UserRow,
    e: &EntityRow,
    route: Store<'_>,
) -> ApiResult {
    match route {
        Store::Restore { version, .. } => {
            if e.owner_id != user.id && user.is_admin == 0 {
                return Err(ApiError::forbidden(format!(
                    "only {} or an admin can restore a version of this entity",
                    e.owner
                )));
            }
            let wanted: i64 = version.parse().map_err(|_| {
                ApiError::bad_request(
                    "bad_version",
                    format!("`{version}` is not a version number"),
                )
            })?;
            match storage.restore_version(e.id, wanted).await? {
                Restored::Done { version } => {
                    let updated = storage.entity(e.id).await?;
                    json(200, &json!({ "entity": updated, "restored_from": wanted, "version": version }))
                }
                Restored::NoVersion => Err(ApiError::missing(format!(
                    "an approved version {wanted} of Store entity {} (versions older than the last {KEPT_VERSIONS} are not kept)",
                    e.id
                ))),
            }
        }
        _ => {
            let mut versions = storage.entity_versions(e.id).await?;
            // Others see what was served; the owner and admins see all.
            if e.owner_id != user.id && user.is_admin == 0 {
                versions.retain(|v| v.status == "approved");
            }
            json(200, &json!({ "current": e.version, "versions": versions }))
        }
    }
}
