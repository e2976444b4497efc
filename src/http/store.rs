//! `/api/store/…`: uploading, previewing, browsing, owning and installing
//! Store entities. Thin: multipart parsing here, validation in
//! `catalog::store`, storage in `storage::store`.

use serde_json::{json, Value};
use worker::{Env, FormData, FormEntry, Method, Request};

use super::auth::require_user;
use super::error::{ApiError, ApiResult};
use super::{json, no_content, read_form, Query};
use crate::catalog::archive::ArchiveFile;
use crate::catalog::ingest::{ingest_files, IngestedFiles};
use crate::catalog::review::ReviewStatus;
use crate::catalog::scan::scan;
use crate::catalog::store::{
    uploaded_files, validate_files, EntityType, UploadError, ValidatedUpload, STORE_LIMITS,
};
use crate::http::percent::{attachment, decode_segment};
use crate::http::route::Store;
use crate::storage::entries::EntryReader;
use crate::storage::store::{EntityMeta, EntityQuery, EntityRow, EntitySort, MetaPatch, Rating};
use crate::storage::users::UserRow;
use crate::storage::view_rows::store_file;
use crate::storage::{Storage, StorageError};

/// Most `docs` files per upload, and bytes per doc.
const MAX_DOCS: usize = 10;
const MAX_DOC_BYTES: usize = 256 << 10;
/// Most characters in a text field.
const MAX_FIELD_CHARS: usize = 4_000;

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        let status = match &e {
            UploadError::Archive(crate::catalog::archive::ArchiveError::ArchiveTooLarge {
                ..
            }) => 413,
            _ => 422,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

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

/// The request's multipart form.
/// Largest Store form: the ZIP, the docs and the text fields.
const MAX_FORM_BYTES: usize =
    STORE_LIMITS.max_archive_bytes + MAX_DOCS * MAX_DOC_BYTES + (64 << 10);

/// The files uploaded in the form's `file` field: a ZIP (`.zip`, or a
/// `.skill` package) or a lone Markdown file (`catalog::store::uploaded_files`).
async fn uploaded(form: &FormData) -> Result<Vec<ArchiveFile>, ApiError> {
    match form.get("file") {
        // The bytes move into the reader: an upload is not copied here.
        Some(FormEntry::File(f)) => Ok(uploaded_files(f.bytes().await?, &f.name())?),
        _ => Err(ApiError::bad_request(
            "missing_file",
            "the form field `file` must hold the ZIP, the .skill package or the SKILL.md",
        )),
    }
}

fn field(form: &FormData, name: &str, required: bool) -> Result<Option<String>, ApiError> {
    match form.get(name) {
        Some(FormEntry::Field(v)) => match text_value(name, &v)? {
            None if required => Err(missing_field(name)),
            v => Ok(v),
        },
        Some(FormEntry::File(_)) => Err(ApiError::bad_request(
            "bad_field",
            format!("`{name}` must be a text field"),
        )),
        None if required => Err(missing_field(name)),
        None => Ok(None),
    }
}

fn missing_field(name: &str) -> ApiError {
    ApiError::bad_request(
        "missing_field",
        format!("the form field `{name}` is required"),
    )
}

/// A metadata value as stored: trimmed, `None` when blank, at most
/// `MAX_FIELD_CHARS` long; the one rule for forms and JSON edits alike.
fn text_value(name: &str, raw: &str) -> Result<Option<String>, ApiError> {
    let v = raw.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > MAX_FIELD_CHARS {
        return Err(ApiError::bad_request(
            "field_too_long",
            format!("`{name}` is longer than {MAX_FIELD_CHARS} characters"),
        ));
    }
    Ok(Some(v.to_string()))
}

/// A media link as stored: an http(s) URL with no whitespace in it.
fn url_value(name: &str, raw: Option<String>) -> Result<Option<String>, ApiError> {
    if let Some(u) = &raw {
        if !(u.starts_with("https://") || u.starts_with("http://"))
            || u.contains(char::is_whitespace)
        {
            return Err(ApiError::bad_request(
                "bad_url",
                format!("`{name}` must be an http(s) URL"),
            ));
        }
    }
    Ok(raw)
}

fn url_field(form: &FormData, name: &str) -> Result<Option<String>, ApiError> {
    url_value(name, field(form, name, false)?)
}

/// A JSON details edit under the form's rules; a blank value keeps the
/// stored one, as an absent one does.
fn checked_patch(patch: MetaPatch) -> Result<MetaPatch, ApiError> {
    let text = |name: &str, v: Option<String>| match v {
        Some(v) => text_value(name, &v),
        None => Ok(None),
    };
    Ok(MetaPatch {
        title: text("title", patch.title)?,
        tagline: text("tagline", patch.tagline)?,
        description: text("description", patch.description)?,
        category: text("category", patch.category)?,
        photo_url: url_value("photo_url", text("photo_url", patch.photo_url)?)?,
        video_url: url_value("video_url", text("video_url", patch.video_url)?)?,
    })
}

/// `POST /api/store/entities[/preview]`: validate, then store unless previewing.
async fn upload(req: &mut Request, storage: &Storage, user: &UserRow, preview: bool) -> ApiResult {
    let form = read_form(req, MAX_FORM_BYTES).await?;
    let type_text = field(&form, "type", true)?.unwrap_or_default();
    let entity_type = EntityType::parse(&type_text).ok_or_else(|| {
        ApiError::bad_request(
            "bad_type",
            format!("type must be skill, agent or plugin, not `{type_text}`"),
        )
    })?;
    let name = field(&form, "name", true)?.unwrap_or_default();
    // The archive moves in and is gone once read: only its files remain.
    let mut v = validate_files(uploaded(&form).await?, entity_type, &name, &user.username)?;
    if v.entity_type == EntityType::Plugin {
        rename_plugin_json(&mut v);
    }
    let files_json: Vec<Value> = v
        .files
        .iter()
        .map(|f| json!({ "path": f.path.as_str(), "size": f.content.len(), "executable": f.exec }))
        .collect();
    if preview {
        let scan = scan(&v.files);
        return json(
            200,
            &json!({ "type": v.entity_type.as_str(), "name": v.name, "served_name": v.served_name, "files": files_json, "warnings": v.warnings,
                     "capabilities": scan.capabilities, "badges": scan.badges, "findings": scan.findings }),
        );
    }
    let meta = EntityMeta {
        entity_type: v.entity_type,
        name: v.name.clone(),
        served_name: v.served_name.clone(),
        title: field(&form, "title", true)?.unwrap_or_default(),
        tagline: field(&form, "tagline", true)?.unwrap_or_default(),
        description: field(&form, "description", true)?.unwrap_or_default(),
        category: field(&form, "category", true)?.unwrap_or_default(),
        photo_url: url_field(&form, "photo_url")?,
        video_url: url_field(&form, "video_url")?,
    };
    let mut docs = Vec::new();
    for d in form.get_all("docs").unwrap_or_default() {
        if let FormEntry::File(f) = d {
            if docs.len() == MAX_DOCS || f.size() > MAX_DOC_BYTES {
                return Err(ApiError::bad_request(
                    "docs_too_large",
                    format!("at most {MAX_DOCS} docs of {MAX_DOC_BYTES} bytes each"),
                ));
            }
            docs.push((f.name(), f.bytes().await?));
        }
    }
    // Refuse a taken name, or one entry too many, before anything reaches R2.
    match storage.check_new_entity(user.id, &meta.served_name).await {
        Err(StorageError::Conflict(_)) => {
            return Err(ApiError::new(
                409,
                "conflict",
                format!(
                    "you already published `{}`; update it with PUT /api/store/entities/{{id}}",
                    meta.name
                ),
            ))
        }
        other => other?,
    }
    let ingested = ingest_files(std::mem::take(&mut v.files));
    let status = upload_status(storage, &ingested).await?;
    let row = storage
        .while_writing(storage.create_entity(user.id, &meta, ingested, &docs, status))
        .await?;
    json(
        201,
        &json!({ "entity": row, "files": files_json, "warnings": v.warnings }),
    )
}

/// `PUT` with a ZIP: the same validation as an upload, under the entity's
/// type and name; replaces its files and bumps its version.
async fn new_version(
    req: &mut Request,
    storage: &Storage,
    user: &UserRow,
    e: &EntityRow,
) -> Result<(), ApiError> {
    let form = read_form(req, MAX_FORM_BYTES).await?;
    // Everything is checked before anything is written, and then the files
    // and the details change in one D1 batch.
    let patch = MetaPatch {
        title: field(&form, "title", false)?,
        tagline: field(&form, "tagline", false)?,
        description: field(&form, "description", false)?,
        category: field(&form, "category", false)?,
        photo_url: url_field(&form, "photo_url")?,
        video_url: url_field(&form, "video_url")?,
    };
    let entity_type = EntityType::parse(&e.entity_type)
        .ok_or_else(|| ApiError::internal("stored entity has an unknown type"))?;
    let mut v = validate_files(uploaded(&form).await?, entity_type, &e.name, &user.username)?;
    if v.entity_type == EntityType::Plugin {
        rename_plugin_json(&mut v);
    }
    let ingested = ingest_files(std::mem::take(&mut v.files));
    let status = upload_status(storage, &ingested).await?;
    storage
        .while_writing(storage.replace_entity_version(e.id, entity_type, ingested, &patch, status))
        .await?;
    Ok(())
}

/// Whether an upload waits for review, under the deployment's mode.
async fn upload_status(storage: &Storage, files: &IngestedFiles) -> Result<ReviewStatus, ApiError> {
    let mode = storage.review_mode().await?;
    Ok(ReviewStatus::of_upload(mode, &files.scan.capabilities))
}

/// A Store plugin's `plugin.json` names it by its served name, so two owners'
/// plugins of the same name never share a namespace in Claude Code.
fn rename_plugin_json(v: &mut ValidatedUpload) {
    let served = v.served_name.clone();
    if let Some(f) = v
        .files
        .iter_mut()
        .find(|f| f.path.as_str() == ".claude-plugin/plugin.json")
    {
        if let Ok(serde_json::Value::Object(mut obj)) = serde_json::from_slice::<Value>(&f.content)
        {
            obj.insert("name".into(), Value::String(served));
            let mut bytes = serde_json::to_vec_pretty(&Value::Object(obj)).unwrap_or_default();
            bytes.push(b'\n');
            f.content = bytes;
        }
    }
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
