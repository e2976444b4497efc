//! `/api/admin/…`, one file per resource: users and tokens, groups and
//! grants, marketplaces and sources, Store moderation and review, cache
//! and GC, and the audit log. Every route needs an admin; this file checks that once
//! and holds what several resources share (paging, lookups by name).

use serde_json::json;
use worker::{Env, Request};

use super::auth::require_admin;
use super::error::{ApiError, ApiResult};
use super::Query;
use crate::catalog::resolve::Requirement;
use crate::http::route::Admin;
use crate::storage::users::{GroupRow, UserRow};
use crate::storage::Storage;

mod audit;
mod cache;
mod groups;
mod marketplaces;
mod moderation;
mod review;
mod users;

/// Answers one `/api/admin/…` route, for admins only.
pub async fn route(req: Request, env: &Env, storage: &Storage, route: Admin<'_>) -> ApiResult {
    require_admin(&req, env, storage).await?;
    match route {
        Admin::Users(r) => users::route(req, env, storage, r).await,
        Admin::Groups(r) => groups::route(req, env, storage, r).await,
        Admin::Marketplaces(r) => marketplaces::route(req, env, storage, r).await,
        Admin::Moderation(r) => moderation::route(req, env, storage, r).await,
        Admin::Cache(r) => cache::route(req, env, storage, r).await,
        Admin::Review(r) => review::route(req, storage, r).await,
        Admin::Audit => audit::route(req, storage).await,
    }
}

/// A listing's page size: `limit`, 50 unless given, at most 500.
fn page_limit(query: &Query) -> Result<i64, ApiError> {
    Ok(query.number("limit", Some(50), 1, 500)?.unwrap_or(50))
}

/// A newest-first listing's page: rows with ids below `before` (if
/// given), at most `limit`.
fn newest_first(query: &Query) -> Result<(Option<i64>, i64), ApiError> {
    Ok((
        query.number("before", None, 1, i64::MAX)?,
        page_limit(query)?,
    ))
}

/// Where the page after `rows` starts (the last row's key), when a full
/// page suggests there may be more.
fn next_page<T, K>(rows: &[T], limit: i64, key: impl Fn(&T) -> K) -> Option<K> {
    (rows.len() as i64 == limit).then(|| rows.last().map(key))?
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

async fn user_named(storage: &Storage, username: &str) -> Result<UserRow, ApiError> {
    storage
        .user_by_name(username)
        .await?
        .ok_or_else(|| ApiError::missing(format!("user `{username}`")))
}

async fn group_named(storage: &Storage, group: &str) -> Result<GroupRow, ApiError> {
    storage
        .group_by_name(group)
        .await?
        .ok_or_else(|| ApiError::missing(format!("group `{group}`")))
}
