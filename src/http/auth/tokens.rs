//! Issuing personal access tokens, for an admin (`/api/admin/users/…/tokens`)
//! and for oneself (`/api/me/tokens`): name and lifetime checks, the live
//! token limit, and only the hash stored.

use super::new_token;
use crate::catalog::auth::token::{token_hash, token_prefix, MAX_TOKEN_DAYS};
use crate::http::error::ApiError;
use crate::storage::users::MAX_LIVE_TOKENS;
use crate::storage::Storage;

/// Creates a token for `user_id`; returns (id, secret). The secret is never stored.
pub async fn issue_token(
    storage: &Storage,
    user_id: i64,
    body: &NewToken,
) -> Result<(String, String), ApiError> {
    let name = &body.name;
    if name.trim().is_empty() || name.len() > 100 {
        return Err(ApiError::bad_request(
            "bad_token_name",
            "token name must be 1-100 characters",
        ));
    }
    let expires_at = match body.expires_in_days {
        None => None,
        Some(days) if (1..=MAX_TOKEN_DAYS).contains(&days) => {
            Some(crate::storage::now() + days * 24 * 3600)
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "bad_expiry",
                format!("expires_in_days must be a whole number from 1 to {MAX_TOKEN_DAYS}, or left out for a token that does not expire"),
            ))
        }
    };
    let (id, token) = new_token()?;
    let stored = storage
        .create_token(
            user_id,
            &id,
            name,
            &token_hash(&token),
            &token_prefix(&token),
            expires_at,
        )
        .await?;
    if !stored {
        return Err(ApiError::new(
            409,
            "too_many_tokens",
            format!("a user holds at most {MAX_LIVE_TOKENS} live tokens; revoke one that is no longer used first"),
        ));
    }
    Ok((id, token))
}

/// A token to make: its name and, optionally, its lifetime.
#[derive(serde::Deserialize)]
pub struct NewToken {
    pub name: String,
    pub expires_in_days: Option<i64>,
}
