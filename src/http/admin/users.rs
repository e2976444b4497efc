//! `/api/admin/users…` and `/api/admin/tokens…`: accounts, admin rights,
//! disabling, deleting, and each user's tokens and access.

use serde::Deserialize;
use serde_json::json;
use worker::{Env, Method, Request};

use super::{next_page, page_limit, user_json, user_named};
use crate::catalog::access::explain;
use crate::catalog::auth::token::token_prefix;
use crate::catalog::names::Username;
use crate::http::auth::tokens::{issue_token, NewToken};
use crate::http::error::{ApiError, ApiResult};
use crate::http::route::Users;
use crate::http::{json, no_content, read_json, Query};
use crate::storage::Storage;

#[derive(Deserialize)]
struct NewUser {
    username: String,
    email: String,
    #[serde(default)]
    admin: bool,
}

#[derive(Deserialize)]
struct UserPatch {
    admin: bool,
}

/// Answers one `Users` route.
pub(super) async fn route(
    mut req: Request,
    _env: &Env,
    storage: &Storage,
    route: Users<'_>,
) -> ApiResult {
    match route {
        Users::Create => {
            let body: NewUser = read_json(&mut req).await?;
            let username = Username::parse(&body.username)?;
            if !body.email.contains('@') || body.email.len() > 254 {
                return Err(ApiError::bad_request(
                    "bad_email",
                    format!("`{}` is not an email address", body.email),
                ));
            }
            let u = storage
                .create_user(username.as_str(), &body.email, body.admin)
                .await?;
            json(201, &user_json(&u))
        }
        Users::List => {
            let query = Query::of(&req)?;
            let limit = page_limit(&query)?;
            let rows = storage
                .list_users(query.get("after").as_deref(), limit)
                .await?;
            let next = next_page(&rows, limit, |u| u.username.clone());
            let users: Vec<_> = rows.iter().map(user_json).collect();
            json(200, &json!({ "users": users, "next_after": next }))
        }
        Users::Get { user: username } => {
            let user = user_named(storage, username).await?;
            let access = storage.user_access(user.id).await?;
            json(
                200,
                &json!({ "user": user_json(&user), "groups": access.groups, "tokens": storage.list_tokens(user.id).await? }),
            )
        }
        Users::Update { user: username } => {
            let body: UserPatch = read_json(&mut req).await?;
            if !storage.set_admin(username, body.admin).await? {
                return Err(ApiError::missing(format!("user `{username}`")));
            }
            json(
                200,
                &json!({ "user": user_json(&user_named(storage, username).await?) }),
            )
        }
        Users::Disable { user: username } | Users::Enable { user: username } => {
            // Every token and session of theirs stops at once (each token
            // check requires an enabled user); their Store entities stay.
            let user = user_named(storage, username).await?;
            storage
                .set_user_disabled(user.id, req.method() == Method::Put)
                .await?;
            no_content()
        }
        Users::Delete { user: username } => {
            let user = user_named(storage, username).await?;
            storage.delete_user(user.id).await?;
            no_content()
        }
        Users::Tokens { user: username } => {
            let user = user_named(storage, username).await?;
            json(
                200,
                &json!({ "tokens": storage.list_tokens(user.id).await? }),
            )
        }
        Users::Access { user: username } => {
            let user = user_named(storage, username).await?;
            let a = storage.user_access(user.id).await?;
            let plugins: Vec<_> = explain(&a.grants, &a.optouts, &a.existing)
                .into_iter()
                .map(|line| {
                    let name = a
                        .names
                        .iter()
                        .find(|(k, _)| {
                            k.slug.as_str() == line.marketplace && k.plugin.as_str() == line.plugin
                        })
                        .map(|(_, n)| n.clone());
                    let mut v = serde_json::to_value(&line).unwrap_or_default();
                    v["name"] = json!(name);
                    v
                })
                .collect();
            json(
                200,
                &json!({ "user": user_json(&user), "groups": a.groups, "plugins": plugins, "store_installs": a.installs }),
            )
        }
        Users::CreateToken { user: username } => {
            let body: NewToken = read_json(&mut req).await?;
            let user = user_named(storage, username).await?;
            let (id, token) = issue_token(storage, user.id, &body).await?;
            json(
                201,
                &json!({ "id": id, "token": token, "prefix": token_prefix(&token) }),
            )
        }
        Users::RevokeToken { id } => {
            if storage.revoke_token(id, None).await? {
                no_content()
            } else {
                Err(ApiError::missing(format!("active token `{id}`")))
            }
        }
    }
}
