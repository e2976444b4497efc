//! `/api/admin/…`: users, tokens, groups, memberships, marketplace import,
//! grants, disabling plugins and purging caches. Thin: parse, call storage
//! and catalog, answer.

use serde::Deserialize;
use serde_json::json;
use worker::{Env, Method, Request};

use super::auth::{new_token, require_admin};
use super::error::{ApiError, ApiResult};
use super::{json, no_content, read_json, Query};
use crate::catalog::access::explain;
use crate::catalog::etag::Etag;
use crate::catalog::names::{GroupName, PluginKey, PluginName, Slug, Username};
use crate::catalog::resolve::Requirement;
use crate::catalog::token::{token_hash, token_prefix, MAX_TOKEN_DAYS};
use crate::storage::audit::AuditQuery;
use crate::storage::edge::ZonePurge;
use crate::storage::users::{GroupRow, UserRow, MAX_LIVE_TOKENS};
use crate::storage::Store;

#[derive(Deserialize)]
struct NewUser {
    username: String,
    email: String,
    #[serde(default)]
    admin: bool,
}

#[derive(Deserialize)]
struct NewNamed {
    name: String,
}

#[derive(Deserialize)]
struct SourceBody {
    url: String,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    auth_secret: Option<String>,
    webhook_secret: Option<String>,
}

#[derive(Deserialize)]
struct GrantBody {
    requirement: String,
}

#[derive(Deserialize)]
struct GcBody {
    /// Only objects at least this old are collected (default one hour).
    min_age_seconds: Option<i64>,
    /// Cached packs not served for this long are dropped (default 30 days).
    pack_max_idle_seconds: Option<i64>,
}

#[derive(Deserialize)]
struct UserPatch {
    admin: bool,
}

/// What to purge: exactly one of everything, one view's ETag, or every
/// view serving one curated plugin.
#[derive(Deserialize)]
struct PurgeBody {
    #[serde(default)]
    all: bool,
    etag: Option<String>,
    plugin: Option<String>,
}

/// Routes `/api/admin/<segs…>`.
pub async fn route(mut req: Request, env: &Env, store: &Store, segs: &[&str]) -> ApiResult {
    require_admin(&req, env, store).await?;
    let method = req.method();
    match (method, segs) {
        (Method::Post, ["users"]) => {
            let body: NewUser = read_json(&mut req).await?;
            let username = Username::parse(&body.username)?;
            if !body.email.contains('@') || body.email.len() > 254 {
                return Err(ApiError::bad_request(
                    "bad_email",
                    format!("`{}` is not an email address", body.email),
                ));
            }
            let u = store
                .create_user(username.as_str(), &body.email, body.admin)
                .await?;
            json(201, &user_json(&u))
        }
        (Method::Get, ["users"]) => {
            let users: Vec<_> = store.list_users().await?.iter().map(user_json).collect();
            json(200, &json!({ "users": users }))
        }
        (Method::Get, ["users", username]) => {
            let user = user_named(store, username).await?;
            let access = store.user_access(user.id).await?;
            json(
                200,
                &json!({ "user": user_json(&user), "groups": access.groups, "tokens": store.list_tokens(user.id).await? }),
            )
        }
        (Method::Patch, ["users", username]) => {
            let body: UserPatch = read_json(&mut req).await?;
            if !store.set_admin(username, body.admin).await? {
                return Err(ApiError::missing(format!("user `{username}`")));
            }
            json(
                200,
                &json!({ "user": user_json(&user_named(store, username).await?) }),
            )
        }
        (m @ (Method::Put | Method::Delete), ["users", username, "disabled"]) => {
            // Every token and session of theirs stops at once (each token
            // check requires an enabled user); their Store entities stay.
            let user = user_named(store, username).await?;
            store.set_user_disabled(user.id, m == Method::Put).await?;
            no_content()
        }
        (Method::Delete, ["users", username]) => {
            let user = user_named(store, username).await?;
            store.delete_user(user.id).await?;
            no_content()
        }
        (Method::Get, ["audit"]) => {
            let query = Query::of(&req)?;
            let limit = query.number("limit", Some(50), 1, 500)?.unwrap_or(50);
            let (actor, action) = (query.get("actor"), query.get("action"));
            let entries = store
                .audit_page(&AuditQuery {
                    actor: actor.as_deref(),
                    action: action.as_deref(),
                    before: query.number("before", None, 1, i64::MAX)?,
                    limit,
                })
                .await?;
            // The next page: entries older than the last one shown.
            let next = (entries.len() as i64 == limit)
                .then(|| entries.last().map(|e| e.id))
                .flatten();
            json(200, &json!({ "entries": entries, "next_before": next }))
        }
        (Method::Get, ["store", "unpublished"]) => {
            let entities = store.unpublished_entities().await?;
            json(200, &json!({ "entities": entities }))
        }
        (m @ (Method::Put | Method::Delete), ["store", "entities", id, "unpublished"]) => {
            // The emergency brake: the entity leaves every stack and the
            // Store on the next request; restoring brings it back.
            let id: i64 = id.parse().map_err(|_| {
                ApiError::bad_request("bad_id", format!("`{id}` is not an entity id"))
            })?;
            if store.set_unpublished(id, m == Method::Put).await? {
                no_content()
            } else {
                Err(ApiError::missing(format!("Store entity {id}")))
            }
        }
        (Method::Get, ["users", username, "tokens"]) => {
            let user = user_named(store, username).await?;
            json(200, &json!({ "tokens": store.list_tokens(user.id).await? }))
        }
        (Method::Get, ["users", username, "access"]) => {
            let user = user_named(store, username).await?;
            let a = store.user_access(user.id).await?;
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
        (Method::Post, ["users", username, "tokens"]) => {
            let body: NewToken = read_json(&mut req).await?;
            let user = user_named(store, username).await?;
            let (id, token) = issue_token(store, user.id, &body).await?;
            json(
                201,
                &json!({ "id": id, "token": token, "prefix": token_prefix(&token) }),
            )
        }
        (Method::Delete, ["tokens", id]) => {
            if store.revoke_token(id, None).await? {
                no_content()
            } else {
                Err(ApiError::missing(format!("active token `{id}`")))
            }
        }
        (Method::Post, ["groups"]) => {
            let body: NewNamed = read_json(&mut req).await?;
            let name = GroupName::parse(&body.name)?;
            let g = store.create_group(name.as_str()).await?;
            json(201, &json!({ "id": g.id, "name": g.name }))
        }
        (Method::Get, ["groups"]) => {
            let mut members = store.group_members().await?;
            let groups: Vec<_> = store
                .list_groups()
                .await?
                .into_iter()
                .map(|g| json!({ "id": g.id, "members": members.remove(&g.name).unwrap_or_default(), "name": g.name }))
                .collect();
            json(200, &json!({ "groups": groups }))
        }
        (m @ (Method::Put | Method::Delete), ["groups", group, "members", username]) => {
            let g = group_named(store, group).await?;
            let user = user_named(store, username).await?;
            if m == Method::Put {
                store.add_member(g.id, user.id).await?;
            } else {
                store.remove_member(g.id, user.id).await?;
            }
            no_content()
        }
        (Method::Put, ["marketplaces", slug]) => super::import::import(&mut req, store, slug).await,
        (Method::Get, ["runtime"]) => json(
            200,
            &json!({ "wasm_memory_bytes": crate::timing::wasm_memory_bytes() }),
        ),
        (Method::Get, ["marketplaces"]) => json(
            200,
            &json!({ "marketplaces": store.list_marketplaces().await? }),
        ),
        (Method::Get, ["marketplaces", slug]) => {
            let source = store.source(slug).await?;
            let plugins = store.marketplace_plugins(slug).await?;
            if plugins.is_none() && source.is_none() {
                return Err(ApiError::missing(format!("marketplace `{slug}`")));
            }
            json(
                200,
                &json!({
                    "slug": slug,
                    "plugins": plugins.unwrap_or_default(),
                    "source": source.as_ref().map(super::sync::source_json),
                }),
            )
        }
        (Method::Put, ["marketplaces", slug, "source"]) => {
            let slug = Slug::parse(slug)?;
            let body: SourceBody = read_json(&mut req).await?;
            super::remote::Remote::new(&body.url, None)?;
            for name in [&body.auth_secret, &body.webhook_secret]
                .into_iter()
                .flatten()
            {
                let ok = !name.is_empty()
                    && name.len() <= 64
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                    && !name.as_bytes()[0].is_ascii_digit();
                if !ok {
                    return Err(ApiError::bad_request(
                        "bad_secret_name",
                        format!("`{name}` is not a Worker secret name (A-Z, 0-9 and _); name the secret, do not paste it"),
                    ));
                }
            }
            let git_ref = body.git_ref.filter(|r| !r.trim().is_empty());
            store
                .put_source(
                    slug.as_str(),
                    body.url.trim_end_matches('/'),
                    &git_ref,
                    &body.auth_secret,
                    &body.webhook_secret,
                )
                .await?;
            let src = store
                .source(slug.as_str())
                .await?
                .ok_or_else(|| ApiError::missing("the source"))?;
            json(
                200,
                &json!({ "slug": slug.as_str(), "source": super::sync::source_json(&src) }),
            )
        }
        (Method::Delete, ["marketplaces", slug, "source"]) => {
            if store.delete_source(slug).await? {
                no_content()
            } else {
                Err(ApiError::missing(format!("a source for `{slug}`")))
            }
        }
        (Method::Post, ["marketplaces", slug, "sync"]) => {
            let state = super::sync::sync(env, store, slug).await?;
            json(200, &json!({ "slug": slug, "source": state }))
        }
        (Method::Delete, ["marketplaces", slug]) => {
            if store.delete_marketplace(slug).await? {
                no_content()
            } else {
                Err(ApiError::missing(format!("marketplace `{slug}`")))
            }
        }
        (m @ (Method::Put | Method::Delete), ["groups", group, "grants", slug, plugin]) => {
            let g = group_named(store, group).await?;
            let (slug, plugin) = (Slug::parse(slug)?, PluginName::parse(plugin)?);
            if m == Method::Put {
                let body: GrantBody = read_json(&mut req).await?;
                let req = parse_requirement(&body.requirement)?;
                if !store.plugin_exists(slug.as_str(), plugin.as_str()).await? {
                    return Err(ApiError::missing(format!("plugin `{slug}/{plugin}`")));
                }
                store
                    .put_grant(g.id, slug.as_str(), plugin.as_str(), req)
                    .await?;
                no_content()
            } else if store
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
        (m @ (Method::Put | Method::Delete), ["groups", group, "grants", slug]) => {
            let g = group_named(store, group).await?;
            let slug = Slug::parse(slug)?;
            if store.marketplace_plugins(slug.as_str()).await?.is_none() {
                return Err(ApiError::missing(format!("marketplace `{slug}`")));
            }
            let changed = if m == Method::Put {
                let body: GrantBody = read_json(&mut req).await?;
                store
                    .grant_marketplace(g.id, slug.as_str(), parse_requirement(&body.requirement)?)
                    .await?
            } else {
                store.revoke_marketplace(g.id, slug.as_str()).await?
            };
            json(200, &json!({ "changed": changed }))
        }
        (Method::Get, ["access"]) => {
            let (plugins, grants) = store.access_matrix().await?;
            let groups: Vec<String> = store
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
        (m @ (Method::Put | Method::Delete), ["plugins", slug, plugin, "disabled"]) => {
            if store.set_disabled(slug, plugin, m == Method::Put).await? {
                no_content()
            } else {
                Err(ApiError::missing(format!("plugin `{slug}/{plugin}`")))
            }
        }
        (Method::Post, ["gc"]) => {
            let body: GcBody = read_json(&mut req).await?;
            let min_age = body.min_age_seconds.unwrap_or(3600);
            if min_age < 0 {
                return Err(ApiError::bad_request(
                    "bad_gc",
                    "min_age_seconds must not be negative",
                ));
            }
            let max_idle = body.pack_max_idle_seconds.unwrap_or(30 * 24 * 3600);
            if max_idle < 0 {
                return Err(ApiError::bad_request(
                    "bad_gc",
                    "pack_max_idle_seconds must not be negative",
                ));
            }
            // Advertisements first: the retired rows they drop free entries.
            store
                .gc_advertisements(super::view::advertisement_window(env))
                .await?;
            let entries = store.gc_entries(min_age).await?;
            let (deleted, kept) = entries.unwrap_or((0, 0));
            let packs = store.gc_packs(max_idle).await?;
            json(
                200,
                &json!({ "deleted": deleted, "kept": kept, "deferred": entries.is_none(), "deleted_packs": packs }),
            )
        }
        (Method::Get, ["cache"]) => json(200, &json!({ "packs": store.cached_packs().await? })),
        (Method::Post, ["cache", "purge"]) => {
            let body: PurgeBody = read_json(&mut req).await?;
            let bad = |why: &str| {
                ApiError::bad_request(
                    "bad_purge",
                    format!("{why}: send one of {{\"all\": true}}, {{\"etag\": \"<16 hex digits>\"}} or {{\"plugin\": \"<slug>/<plugin>\"}}"),
                )
            };
            let (deleted, views) = match (body.all, body.etag.as_deref(), body.plugin.as_deref()) {
                (true, None, None) => store.purge_all_packs().await?,
                (false, Some(etag), None) => {
                    let etag = Etag::parse(etag).ok_or_else(|| bad("not an ETag"))?;
                    (store.purge_etag(&etag).await?, vec![etag])
                }
                (false, None, Some(plugin)) => {
                    let (slug, name) = plugin
                        .split_once('/')
                        .ok_or_else(|| bad("not <slug>/<plugin>"))?;
                    let key = PluginKey::parse(slug, name)?;
                    let mut deleted = 0;
                    let views = store.views_serving(&key.to_string()).await?;
                    for etag in &views {
                        deleted += store.purge_etag(etag).await?;
                    }
                    (deleted, views)
                }
                _ => return Err(bad("exactly one selector is needed")),
            };
            // Other data centres' edge copies go through the zone's purge API.
            let zone = match zone_purge(env) {
                None => "not_configured",
                Some(_) if views.is_empty() => "nothing_to_purge",
                Some(z) => match store.purge_zone_tags(&z, &views).await {
                    Ok(()) => "purged",
                    Err(e) => {
                        worker::console_error!("zone purge failed: {e}");
                        "failed"
                    }
                },
            };
            let views: Vec<&str> = views.iter().map(Etag::as_str).collect();
            json(
                200,
                &json!({ "deleted": deleted, "views": views, "zone_purge": zone }),
            )
        }
        _ => Err(ApiError::not_found(&req.path())),
    }
}

/// The zone purge API, when `CF_ZONE_ID` (var) and `CF_API_TOKEN` (secret)
/// are set. `CF_API_BASE` overrides the API's address for the tests only.
fn zone_purge(env: &Env) -> Option<ZonePurge> {
    let value = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    Some(ZonePurge {
        zone_id: value(env.var("CF_ZONE_ID").ok().map(|v| v.to_string()))?,
        token: value(env.secret("CF_API_TOKEN").ok().map(|v| v.to_string()))?,
        api_base: value(env.var("CF_API_BASE").ok().map(|v| v.to_string()))
            .unwrap_or_else(|| "https://api.cloudflare.com/client/v4".into()),
    })
}

fn parse_requirement(text: &str) -> Result<Requirement, ApiError> {
    Requirement::parse(text).ok_or_else(|| {
        ApiError::bad_request(
            "bad_requirement",
            format!("requirement must be `available` or `required`, not `{text}`"),
        )
    })
}

/// A user as the admin API shows it.
fn user_json(u: &UserRow) -> serde_json::Value {
    json!({ "id": u.id, "username": u.username, "email": u.email, "admin": u.is_admin != 0, "disabled": u.disabled_at.is_some() })
}

async fn user_named(store: &Store, username: &str) -> Result<UserRow, ApiError> {
    store
        .user_by_name(username)
        .await?
        .ok_or_else(|| ApiError::missing(format!("user `{username}`")))
}

async fn group_named(store: &Store, group: &str) -> Result<GroupRow, ApiError> {
    store
        .group_by_name(group)
        .await?
        .ok_or_else(|| ApiError::missing(format!("group `{group}`")))
}

/// Creates a token for `user_id`; returns (id, secret). The secret is never stored.
pub async fn issue_token(
    store: &Store,
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
            Some((worker::Date::now().as_millis() / 1000) as i64 + days * 24 * 3600)
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "bad_expiry",
                format!("expires_in_days must be a whole number from 1 to {MAX_TOKEN_DAYS}, or left out for a token that does not expire"),
            ))
        }
    };
    let (id, token) = new_token()?;
    let stored = store
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
