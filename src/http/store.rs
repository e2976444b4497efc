//! `/api/store/…`: browsing, owning, installing and rating Store entities.
//! Thin: uploads are `store_upload`'s, versions `store_versions`', the
//! rules `catalog::store`'s, storage `storage::store`'s.

use serde_json::{json, Value};
use worker::{Env, Method, Request};

use super::auth::require_user;
use super::error::{ApiError, ApiResult};
use super::store_upload::{checked_patch, new_version, upload};
use super::{json, no_content, Query};
use crate::http::percent::{attachment, decode_segment};
use crate::http::route::Store;
use crate::storage::entries::EntryReader;
use crate::storage::store::{EntityQuery, EntityRow, EntitySort, Rating};
use crate::storage::users::UserRow;
use crate::storage::view_rows::store_file;
use crate::storage::Storage;

/// Answers one `/api/store/…` route, for the signed-in user.
pub async fn route(mut req: Request, env: &Env, storage: &Storage, route: Store<'_>) -> ApiResult {
    let user = require_user(&req, env, storage).await?;
    match route {
        Store::Publish => upload(&mut req, storage, &user, false).await,
        Store::Preview => upload(&mut req, storage, &user, true).await,
        Store::List => list(&req, storage, &user).await,
        Store::Facets => {
            let (categories, owners) = storage.store_facets().await?;
            json(200, &json!({ "categories": categories, "owners": owners }))
        }
        Store::Get { id } => {
            let e = entity(storage, id, &user).await?;
            let files: Vec<Value> = storage
                .entity_files(e.id)
                .await?
                .iter()
                .map(|f| json!({ "path": f.path, "size": f.size, "executable": f.exec != 0 }))
                .collect();
            let docs: Vec<Value> = storage
                .entity_docs(e.id)
                .await?
                .into_iter()
                .map(|(name, content)| json!({ "name": name, "content": content }))
                .collect();
            let mine = storage.my_rating(user.id, e.id).await?;
            json(
                200,
                &json!({ "entity": e, "files": files, "docs": docs, "my_rating": mine.map(Rating::value) }),
            )
        }
        Store::File { id, path } => {
            let e = entity(storage, id, &user).await?;
            // Segments arrive percent-encoded (spaces, non-ASCII names).
            let path = path
                .iter()
                .map(|seg| decode_segment(seg))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "bad_file_path",
                        "the file path is not valid percent-encoded UTF-8",
                    )
                })?
                .join("/");
            let rows = storage.entity_files(e.id).await?;
            let row = rows
                .iter()
                .find(|f| f.path == path)
                .ok_or_else(|| ApiError::missing(format!("file `{path}` of entity {}", e.id)))?;
            let file = store_file(row, &e.entries_key)?;
            let content = EntryReader::new(storage).content(&file).await?;
            // A download, never rendered: users' files are not our pages.
            let headers = worker::Headers::new();
            headers.set("Content-Type", "application/octet-stream")?;
            headers.set("Content-Disposition", &attachment(&path))?;
            Ok(worker::Response::from_bytes(content)?.with_headers(headers))
        }
        Store::Edit { id } => {
            let e = entity(storage, id, &user).await?;
            require_owner(&e, &user, "change")?;
            let ctype = req.headers().get("Content-Type")?.unwrap_or_default();
            if ctype.starts_with("multipart/form-data") {
                new_version(&mut req, storage, &user, &e).await?;
            } else {
                let patch = checked_patch(super::read_json(&mut req).await?)?;
                storage.update_entity_meta(e.id, &patch).await?;
            }
            let updated = entity(storage, id, &user).await?;
            json(200, &json!({ "entity": updated }))
        }
        Store::Delete { id } => {
            let e = entity(storage, id, &user).await?;
            require_owner(&e, &user, "delete")?;
            storage.delete_entity(e.id).await?;
            no_content()
        }
        Store::Versions { id } | Store::Restore { id, .. } => {
            let e = entity(storage, id, &user).await?;
            super::store_versions::route(storage, &user, &e, route).await
        }
        Store::Rate { id } => {
            let e = entity(storage, id, &user).await?;
            let rating = rating_of(super::read_json(&mut req).await?)?;
            require_served(&e)?;
            if e.owner_id == user.id {
                return Err(ApiError::new(
                    403,
                    "own_entry",
                    "you cannot rate your own entry: ratings are what the others think of it",
                ));
            }
            storage.rate(user.id, e.id, rating).await?;
            rating_answer(storage, &user, e.id).await
        }
        Store::Unrate { id } => {
            let e = entity(storage, id, &user).await?;
            storage.unrate(user.id, e.id).await?;
            rating_answer(storage, &user, e.id).await
        }
        Store::Install { id } | Store::Uninstall { id } => {
            let e = entity(storage, id, &user).await?;
            if req.method() == Method::Post {
                require_served(&e)?;
                storage.install(user.id, e.id).await?;
            } else {
                storage.uninstall(user.id, e.id).await?;
            }
            no_content()
        }
    }
}

/// Refuses what only a served entry allows (installing, rating): its
/// owner and admins still see an unpublished or unreviewed one.
fn require_served(e: &EntityRow) -> Result<(), ApiError> {
    if e.unpublished_at.is_some() {
        return Err(ApiError::new(
            409,
            "entity_unpublished",
            "an admin unpublished this entity: it cannot be installed or rated until an admin restores it",
        ));
    }
    if e.status != "approved" {
        return Err(ApiError::new(
            409,
            "entity_pending",
            "this entry waits for an admin's review (or was refused): it cannot be installed or rated until it is approved",
        ));
    }
    Ok(())
}

/// A rating request's body: `{"value": 1 | -1}`.
fn rating_of(body: Value) -> Result<Rating, ApiError> {
    body.get("value")
        .and_then(Value::as_i64)
        .and_then(Rating::from_value)
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_rating",
                "a rating is {\"value\": 1} (thumbs up) or {\"value\": -1} (thumbs down)",
            )
        })
}

/// After a vote: the entry's counts and the member's own vote.
async fn rating_answer(storage: &Storage, user: &UserRow, id: i64) -> ApiResult {
    let e = storage
        .entity(id)
        .await?
        .ok_or_else(|| ApiError::missing(format!("Store entity {id}")))?;
    let mine = storage.my_rating(user.id, id).await?;
    json(
        200,
        &json!({ "rating_up": e.rating_up, "rating_down": e.rating_down, "my_rating": mine.map(Rating::value) }),
    )
}

/// Only an entity's owner may change or delete it.
fn require_owner(e: &EntityRow, user: &UserRow, action: &str) -> Result<(), ApiError> {
    if e.owner_id == user.id {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "only {} can {action} this entity",
            e.owner
        )))
    }
}

/// Entity `id` as `user` may see it: an unpublished one, or one not yet
/// approved, only its owner and admins.
pub(super) async fn entity(
    storage: &Storage,
    id: &str,
    user: &UserRow,
) -> Result<EntityRow, ApiError> {
    let n: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request("bad_id", format!("`{id}` is not an entity id")))?;
    storage
        .entity(n)
        .await?
        .filter(|e| {
            (e.unpublished_at.is_none() && e.status == "approved")
                || e.owner_id == user.id
                || user.is_admin != 0
        })
        .ok_or_else(|| ApiError::missing(format!("Store entity {n}")))
}

/// `GET /api/store/entities?type=&category=&owner=&q=&sort=&page=&per_page=`.
async fn list(req: &Request, storage: &Storage, user: &UserRow) -> ApiResult {
    let query = Query::of(req)?;
    let param = |k: &str| query.get(k);
    let num = |k: &str, default: i64, max: i64| -> Result<i64, ApiError> {
        Ok(query.number(k, Some(default), 1, max)?.unwrap_or(default))
    };
    let q = EntityQuery {
        entity_type: param("type"),
        category: param("category"),
        owner: param("owner"),
        text: param("q"),
        sort: match param("sort") {
            None => EntitySort::Newest,
            Some(v) => EntitySort::parse(&v).ok_or_else(|| {
                ApiError::bad_request(
                    "bad_sort",
                    format!("sort is newest, installs or rating, not `{v}`"),
                )
            })?,
        },
        viewer: user.id,
        page: num("page", 1, 1_000_000)?,
        per_page: num("per_page", 20, 100)?,
    };
    let (total, rows) = storage.list_entities(&q).await?;
    json(
        200,
        &json!({ "total": total, "page": q.page, "per_page": q.per_page, "entities": rows }),
    )
}
