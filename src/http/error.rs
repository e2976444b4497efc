//! The one place errors become HTTP responses: `{"error":{"code","message"}}`
//! with a fitting status (DESIGN.md, Protocol surface).

use worker::{Response, Result};

/// An error answered as JSON.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// 404 for an unknown route.
    pub fn not_found(path: &str) -> Self {
        ApiError {
            status: 404,
            code: "not_found",
            message: format!("no route for {path}"),
        }
    }

    /// 500 for a failure that is our bug, not the client's.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: 500,
            code: "internal",
            message: message.into(),
        }
    }

    /// The JSON response.
    pub fn into_response(self) -> Result<Response> {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        Ok(Response::from_json(&body)?.with_status(self.status))
    }
}
