//! `/api/admin/groups…` and `/api/admin/access`: groups, their members,
//! their grants of plugins and marketplaces, and the access matrix.

use serde::Deserialize;
use serde_json::json;
use worker::{Env, Method, Request};

use super::{group_named, parse_requirement, user_named};
use crate::catalog::names::{GroupName, PluginName, Slug};
use crate::http::error::{ApiError, ApiResult};
use crate::http::route::Groups;
use crate::http::{json, no_content, read_json};
use crate::storage::Storage;

#[derive(Deserialize)]
struct NewNamed {
    name: String,
}

#[derive(Deserialize)]
struct GrantBody {
    requirement: String,
}

/// Answers one `Groups` route.
pub(super) async fn route(
    mut req: Request,
    _env: &Env,
    storage: &Storage,
    route: Groups<'_>,
) -> ApiResult {
    match route {
        Groups::Create => {
            let body: NewNamed = read_json(&mut req).await?;
            let name = GroupName::parse(&body.name)?;
            let g = storage.create_group(name.as_str()).await?;
            json(201, &json!({ "id": g.id, "name": g.name }))
        }
        Groups::List => {
            let mut members = storage.group_members().await?;
            let groups: Vec<_> = storage
                .list_groups()
                .await?
                .into_iter()
                .map(|g| json!({ "id": g.id, "members": members.remove(&g.name).unwrap_or_default(), "name": g.name }))
                .collect();
            json(200, &json!({ "groups": groups }))
        }
        Groups::AddMember {
            group,
            user: username,
        }
        | Groups::RemoveMember {
            group,
            user: username,
        } => {
            let g = group_named(storage, group).await?;
            let user = user_named(storage, username).await?;
            if req.method() == Method::Put {
                storage.add_member(g.id, user.id).await?;
            } else {
                storage.remove_member(g.id, user.id).await?;
            }
            no_content()
        }
        Groups::Grant {
            group,
            slug,
            plugin,
        }
        | Groups::Revoke {
            group,
            slug,
            plugin,
        } => {
            let g = group_named(storage, group).await?;
            let (slug, plugin) = (Slug::parse(slug)?, PluginName::parse(plugin)?);
            if req.method() == Method::Put {
                let body: GrantBody = read_json(&mut req).await?;
                let req = parse_requirement(&body.requirement)?;
                if !storage
                    .plugin_exists(slug.as_str(), plugin.as_str())
                    .await?
                {
                    return Err(ApiError::missing(format!("plugin `{slug}/{plugin}`")));
                }
                storage
                    .put_grant(g.id, slug.as_str(), plugin.as_str(), req)
                    .await?;
                no_content()
            } else if storage
                .delete_grant(g.id, slug.as_str(), plugin.as_str())
                .await?
            {
                no_content()
            } else {
                Err(ApiError::missing(format!(
                    "grant of `{slug}/{plugin}` to `{group}`"
                )))
            }
        }
        Groups::GrantMarketplace { group, slug } | Groups::RevokeMarketplace { group, slug } => {
            let g = group_named(storage, group).await?;
            let slug = Slug::parse(slug)?;
            if storage.marketplace_plugins(slug.as_str()).await?.is_none() {
                return Err(ApiError::missing(format!("marketplace `{slug}`")));
            }
            let changed = if req.method() == Method::Put {
                let body: GrantBody = read_json(&mut req).await?;
                storage
                    .grant_marketplace(g.id, slug.as_str(), parse_requirement(&body.requirement)?)
                    .await?
            } else {
                storage.revoke_marketplace(g.id, slug.as_str()).await?
            };
            json(200, &json!({ "changed": changed }))
        }
        Groups::Matrix => {
            let (plugins, grants) = storage.access_matrix().await?;
            let groups: Vec<String> = storage
                .list_groups()
                .await?
                .into_iter()
                .map(|g| g.name)
                .collect();
            json(
                200,
                &json!({ "groups": groups, "plugins": plugins, "grants": grants }),
            )
        }
    }
}
