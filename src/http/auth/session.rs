//! `/api/session`: the web UI's sign-in (a PAT exchanged for a session
//! cookie), who is signed in, and sign-out.

use serde::Deserialize;
use serde_json::json;
use worker::{Env, Headers, Request, Response};

use super::{identify, is_admin_token, random_bytes, require_ui_proof, Channel, Principal};
use crate::catalog::auth::session::{format_session_id, session_from_cookie, set_cookie};
use crate::catalog::auth::token::token_hash;
use crate::http::error::{ApiError, ApiResult};
use crate::http::route::Session;
use crate::http::{json, read_json};
use crate::storage::users::UserRow;
use crate::storage::Storage;

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

/// The signed-in user as the UI shows it.
fn me(user: &UserRow) -> serde_json::Value {
    json!({ "username": user.username, "email": user.email, "admin": user.is_admin != 0 })
}

/// Answers `/api/session`: who am I, sign in, sign out.
pub async fn route(mut req: Request, env: &Env, storage: &Storage, op: Session) -> ApiResult {
    match op {
        Session::Read => match identify(&req, env, storage, Channel::Api).await? {
            Some((Principal::User(u), via)) => {
                json(200, &json!({ "user": me(&u), "via": via.as_str() }))
            }
            Some((Principal::BootstrapAdmin, _)) => Err(ApiError::forbidden(
                "ADMIN_TOKEN has no user; sign in with a user's token",
            )),
            None => Err(ApiError::unauthorized()),
        },
        Session::SignIn => {
            // A login form on another site must not sign a victim in.
            require_ui_proof(&req)?;
            let body: SignIn = read_json(&mut req).await?;
            let secret = body.token.trim();
            if is_admin_token(secret, env)? {
                return Err(ApiError::bad_request(
                    "admin_token_sign_in",
                    "ADMIN_TOKEN is for the API only; create a user with `admin: true` and sign in with their token",
                ));
            }
            let owner = storage.token_owner(&token_hash(secret)).await?;
            let Some(owner) = owner else {
                return Err(ApiError::new(
                    401,
                    "bad_token",
                    "that token is not valid: it may be mistyped, revoked or expired",
                ));
            };
            let id = format_session_id(&random_bytes::<32>()?);
            storage.create_session(&token_hash(&id), &owner).await?;
            // Recorded in the audit log as this user's sign-in.
            let user = owner.user();
            storage.note_actor(Some(user.id), &user.username);
            let resp = json(201, &json!({ "user": me(&user) }))?;
            with_cookie(resp, &set_cookie(Some(&id), req.url()?.as_str()))
        }
        Session::SignOut => {
            let cookie = req.headers().get("Cookie")?.unwrap_or_default();
            if let Some(id) = session_from_cookie(&cookie, req.url()?.as_str()) {
                require_ui_proof(&req)?;
                let hash = token_hash(&id.to_ascii_lowercase());
                // Whose session ends, for the audit log's sign-out entry.
                if let Some(user) = storage.session_user(&hash).await? {
                    storage.note_actor(Some(user.id), &user.username);
                }
                storage.delete_session(&hash).await?;
            }
            let resp = Response::empty()?.with_status(204);
            with_cookie(resp, &set_cookie(None, req.url()?.as_str()))
        }
        Session::Other => Err(ApiError::new(
            405,
            "method_not_allowed",
            "use GET, POST or DELETE on /api/session",
        )),
    }
}

fn with_cookie(resp: Response, cookie: &str) -> ApiResult {
    let headers: Headers = resp.headers().clone();
    headers.set("Set-Cookie", cookie)?;
    headers.set("Cache-Control", "no-store")?;
    Ok(resp.with_headers(headers))
}
