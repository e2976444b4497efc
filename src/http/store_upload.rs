//! Store uploads: the multipart form of a new entry, its preview and a
//! new version, read and checked field by field (trimmed, bounded, URLs
//! http(s)) before anything is written; the files' rules are
//! `catalog::store`'s, the review status `catalog::review`'s.

use serde_json::{json, Value};
use worker::{FormData, FormEntry, Request};

use super::error::{ApiError, ApiResult};
use super::{json, read_form};
use crate::catalog::archive::ArchiveFile;
use crate::catalog::ingest::{ingest_files, IngestedFiles};
use crate::catalog::review::ReviewStatus;
use crate::catalog::scan::scan;
use crate::catalog::store::{
    uploaded_files, validate_files, EntityType, UploadError, ValidatedUpload, STORE_LIMITS,
};
use crate::storage::store::{EntityMeta, EntityRow, MetaPatch};
use crate::storage::users::UserRow;
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
pub(super) fn checked_patch(patch: MetaPatch) -> Result<MetaPatch, ApiError> {
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
pub(super) async fn upload(
    req: &mut Request,
    storage: &Storage,
    user: &UserRow,
    preview: bool,
) -> ApiResult {
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
pub(super) async fn new_version(
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
