//! `/api/me/…`: the caller's stack, opt-outs and tokens.

use serde_json::json;
use worker::{Env, Method, Request};

use super::auth::require_user;
use super::auth::tokens::{issue_token, NewToken};
use super::error::{ApiError, ApiResult};
use super::{json, no_content, read_json};
use crate::catalog::names::{PluginName, Slug};
use crate::catalog::version::version_fields;
use crate::http::route::Me;
use crate::storage::Storage;

/// Answers one `/api/me/…` route, for the signed-in user.
pub async fn route(mut req: Request, env: &Env, storage: &Storage, route: Me<'_>) -> ApiResult {
    let user = require_user(&req, env, storage).await?;
    match route {
        Me::Stack => {
            let view = storage.user_view(user.id, false).await?;
            let granted: Vec<_> = view
                .entitlements
                .iter()
                .map(|e| {
                    let p = view.plugins.get(&e.key);
                    let mut row = json!({
                        "marketplace": e.key.slug.as_str(),
                        "plugin": e.key.plugin.as_str(),
                        "name": p.map(|p| p.manifest_name.clone()),
                        "requirement": e.requirement.as_str(),
                        "opted_out": e.opted_out,
                        "disabled": e.disabled,
                        "served": e.served(),
                        "can_opt_out": e.requirement != crate::catalog::resolve::Requirement::Required,
                    });
                    if let Some(obj) = row.as_object_mut() {
                        obj.extend(version_fields(p.and_then(|p| p.version.as_deref())));
                    }
                    row
                })
                .collect();
            // With what each can do, which a view never reads.
            let installs = storage.installed_entities(user.id).await?;
            json(
                200,
                &json!({ "user": user.username, "granted": granted, "store_installs": installs }),
            )
        }
        Me::OptOut { slug, plugin } | Me::OptIn { slug, plugin } => {
            let (slug, plugin) = (Slug::parse(slug)?, PluginName::parse(plugin)?);
            if req.method() == Method::Delete {
                storage
                    .delete_optout(user.id, slug.as_str(), plugin.as_str())
                    .await?;
                return no_content();
            }
            let view = storage.user_view(user.id, false).await?;
            let Some(ent) = view
                .entitlements
                .iter()
                .find(|e| e.key.slug == slug && e.key.plugin == plugin)
            else {
                return Err(ApiError::missing(format!(
                    "a grant of `{slug}/{plugin}` to you"
                )));
            };
            if ent.requirement == crate::catalog::resolve::Requirement::Required {
                return Err(ApiError::new(
                    409,
                    "required_plugin",
                    format!("`{slug}/{plugin}` is required for you and cannot be opted out"),
                ));
            }
            storage
                .put_optout(user.id, slug.as_str(), plugin.as_str())
                .await?;
            no_content()
        }
        Me::Tokens => json(
            200,
            &json!({ "tokens": storage.list_tokens(user.id).await? }),
        ),
        Me::CreateToken => {
            let body: NewToken = read_json(&mut req).await?;
            let (id, token) = issue_token(storage, user.id, &body).await?;
            json(
                201,
                &json!({ "id": id, "token": token, "prefix": crate::catalog::auth::token::token_prefix(&token) }),
            )
        }
        Me::RevokeToken { id } => {
            if storage.revoke_token(id, Some(user.id)).await? {
                no_content()
            } else {
                Err(ApiError::missing(format!("active token `{id}`")))
            }
        }
    }
}
