//! Who is calling: `ADMIN_TOKEN`, a user's PAT, or nobody.

use worker::{Env, Request};

use super::error::ApiError;
use crate::catalog::token::{secrets_equal, token_hash};
use crate::credentials::parse_authorization;
use crate::storage::users::UserRow;
use crate::storage::Store;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The bootstrap `ADMIN_TOKEN`: admin routes only, no marketplace view.
    BootstrapAdmin,
    /// A user, by PAT.
    User(UserRow),
}

impl Principal {
    /// Whether admin routes are open to this caller.
    pub fn is_admin(&self) -> bool {
        match self {
            Principal::BootstrapAdmin => true,
            Principal::User(u) => u.is_admin != 0,
        }
    }
}

/// Authenticates the request; `None` when no credentials were sent or they
/// match nothing.
pub async fn authenticate(
    req: &Request,
    env: &Env,
    store: &Store,
) -> Result<Option<Principal>, ApiError> {
    let Some(header) = req.headers().get("Authorization")? else {
        return Ok(None);
    };
    let Some(cred) = parse_authorization(&header) else {
        return Ok(None);
    };
    let secret = cred.secret();
    if let Ok(admin) = env.secret("ADMIN_TOKEN") {
        let admin = admin.to_string();
        if !admin.is_empty() && secrets_equal(secret, &admin) {
            return Ok(Some(Principal::BootstrapAdmin));
        }
    }
    Ok(store
        .user_by_token_hash(&token_hash(secret))
        .await?
        .map(Principal::User))
}

/// The caller, who must be a user (API routes under `/api/me`).
pub async fn require_user(req: &Request, env: &Env, store: &Store) -> Result<UserRow, ApiError> {
    match authenticate(req, env, store).await? {
        Some(Principal::User(u)) => Ok(u),
        Some(Principal::BootstrapAdmin) => Err(ApiError::forbidden(
            "ADMIN_TOKEN has no marketplace of its own; use a user's token",
        )),
        None => Err(ApiError::unauthorized()),
    }
}

/// The caller, who must be an admin.
pub async fn require_admin(req: &Request, env: &Env, store: &Store) -> Result<Principal, ApiError> {
    match authenticate(req, env, store).await? {
        Some(p) if p.is_admin() => Ok(p),
        Some(_) => Err(ApiError::forbidden(
            "admin routes need ADMIN_TOKEN or an admin user's token",
        )),
        None => Err(ApiError::unauthorized()),
    }
}

/// 20 random bytes as a new PAT secret and 8 as its id.
pub fn new_token() -> Result<(String, String), ApiError> {
    let mut secret = [0u8; 20];
    let mut id = [0u8; 8];
    getrandom::getrandom(&mut secret)
        .map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    getrandom::getrandom(&mut id).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok((
        crate::catalog::token::format_token_id(&id),
        crate::catalog::token::format_token(&secret),
    ))
}
