//! The one place errors become HTTP responses: `{"error":{"code","message"}}`
//! with a fitting status (DESIGN.md, Protocol surface). Lower layers return
//! their own error enums; the `From` impls here decide status and code.

use worker::{Headers, Response, Result};

use crate::catalog::marketplace::ImportError;
use crate::catalog::names::NameError;
use crate::storage::StorageError;

/// An error answered as JSON.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Set for git routes: a 401 must carry `WWW-Authenticate`.
    pub challenge: bool,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            challenge: false,
        }
    }

    /// 404 for an unknown route.
    pub fn not_found(path: &str) -> Self {
        Self::new(404, "not_found", format!("no route for {path}"))
    }

    /// 404 for a missing thing.
    pub fn missing(what: impl Into<String>) -> Self {
        Self::new(404, "not_found", format!("{} does not exist", what.into()))
    }

    /// 400 for a malformed request.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// 401: no or wrong credentials.
    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "missing, wrong or revoked token; send `Authorization: Bearer <token>` (API) or the token as the HTTP Basic password (git)")
    }

    /// 403: authenticated but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }

    /// 413: body over a limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "body_too_large",
            format!("request body is larger than {limit} bytes"),
        )
    }

    /// 500 for a failure that is our bug, not the client's.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }

    /// Asks git clients for Basic credentials on 401.
    pub fn with_challenge(mut self) -> Self {
        self.challenge = true;
        self
    }

    /// The JSON response.
    pub fn into_response(self) -> Result<Response> {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        let headers = Headers::new();
        headers.set("Content-Type", "application/json")?;
        if self.challenge && self.status == 401 {
            headers.set("WWW-Authenticate", "Basic realm=\"marketplace-edge\"")?;
        }
        Ok(
            Response::from_bytes(serde_json::to_vec(&body).unwrap_or_default())?
                .with_status(self.status)
                .with_headers(headers),
        )
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(_) => ApiError::new(409, "conflict", e.to_string()),
            StorageError::GcRunning => ApiError::new(503, "gc_running", e.to_string()),
            StorageError::TooManyEntities => ApiError::new(409, "too_many_entities", e.to_string()),
            StorageError::DirectoryTaken(_) => ApiError::new(409, "directory_taken", e.to_string()),
            _ => ApiError::new(500, "storage", e.to_string()),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        let status = match &e {
            ImportError::Archive(crate::catalog::archive::ArchiveError::ArchiveTooLarge {
                ..
            }) => 413,
            _ => 422,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<crate::catalog::upstream::UpstreamError> for ApiError {
    fn from(e: crate::catalog::upstream::UpstreamError) -> Self {
        use crate::catalog::upstream::UpstreamError as U;
        // A refused tree is the content's fault; an unreadable pack, the server's.
        let status = match &e {
            U::Archive(_) | U::TooManyDirectories { .. } => 422,
            _ => 502,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<NameError> for ApiError {
    fn from(e: NameError) -> Self {
        let code = match e {
            NameError::BadSlug(_) | NameError::ReservedSlug(_) => "bad_slug",
            NameError::BadPluginName(_) => "bad_plugin_name",
            NameError::BadUsername(_) => "bad_username",
            NameError::BadGroupName(_) => "bad_group_name",
        };
        ApiError::bad_request(code, e.to_string())
    }
}

impl From<crate::catalog::served_names::RenameError> for ApiError {
    fn from(e: crate::catalog::served_names::RenameError) -> Self {
        ApiError::bad_request("not_kebab_case", e.to_string())
    }
}

impl From<crate::catalog::secret_name::SecretNameError> for ApiError {
    fn from(e: crate::catalog::secret_name::SecretNameError) -> Self {
        ApiError::bad_request(e.code(), e.to_string())
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::internal(e.to_string())
    }
}

/// Handler result: a response or an `ApiError`.
pub type ApiResult = std::result::Result<Response, ApiError>;
