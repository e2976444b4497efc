//! The served view: who is asking (token, session or Cloudflare Access)
//! and what they are served, resolved from storage into either the view's
//! head (plugin rows alone: advertisements, `ls-refs`, info, cached
//! packs) or the full snapshot with every file (a pack or ZIP to build).

use worker::{Env, Request};

use super::auth::{authenticate, is_admin_token, Channel, Principal};
use super::error::ApiError;
use crate::catalog::resolve::served_keys;
use crate::catalog::snapshot::{Origin, ServedPlugin, Snapshot};
use crate::catalog::store_view::store_plugins;
use crate::catalog::summary::{PluginSummary, SnapshotHead};
use crate::catalog::token::token_hash;
use crate::credentials::parse_authorization;
use crate::git::tree::TreeError;
use crate::storage::users::UserRow;
use crate::storage::view::UserView;
use crate::storage::Store;

/// The served view of a user: their plugins and the snapshot of them.
pub struct View {
    pub plugins: Vec<ServedPlugin>,
    pub snapshot: Snapshot,
}

impl View {
    /// `slug/plugin` of each curated plugin in the view (what a purge by
    /// plugin finds it by).
    pub fn curated_keys(&self) -> Vec<String> {
        self.plugins
            .iter()
            .filter_map(|p| match &p.origin {
                Origin::Curated(k) => Some(k.to_string()),
                _ => None,
            })
            .collect()
    }
}

/// The head of a user's view (for advertisements, `ls-refs` and info),
/// built from plugin rows alone.
pub struct Head {
    pub plugins: Vec<ServedPlugin>,
    pub head: SnapshotHead,
}

pub fn tree_err(e: TreeError) -> ApiError {
    ApiError::internal(format!("building the tree failed: {e}"))
}

/// The plugins a user is served, in order: granted ones, then the Store's.
fn served_plugins(mut uv: UserView) -> Result<Vec<ServedPlugin>, ApiError> {
    let mut plugins: Vec<ServedPlugin> = served_keys(&uv.entitlements)
        .iter()
        .filter_map(|k| uv.plugins.remove(k))
        .collect();
    plugins.extend(store_plugins(&uv.installed).map_err(tree_err)?);
    Ok(plugins)
}

/// The full view (files loaded): what a fetch or the ZIP needs.
pub fn build_view(env: &Env, uv: UserView) -> Result<View, ApiError> {
    let plugins = served_plugins(uv)?;
    let snapshot = Snapshot::build(&marketplace_name(env), &plugins).map_err(tree_err)?;
    Ok(View { plugins, snapshot })
}

/// The view's head (files not loaded, except of rows without a summary).
pub fn build_head(env: &Env, uv: UserView) -> Result<Head, ApiError> {
    let plugins = served_plugins(uv)?;
    let summaries = plugins
        .iter()
        .map(PluginSummary::of)
        .collect::<Result<Vec<_>, _>>()
        .map_err(tree_err)?;
    let head = SnapshotHead::build(&marketplace_name(env), &summaries).map_err(tree_err)?;
    Ok(Head { plugins, head })
}

/// The served marketplace's name (`MARKETPLACE_NAME`), which members
/// install plugins under.
pub fn marketplace_name(env: &Env) -> String {
    env.var("MARKETPLACE_NAME")
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "marketplace-edge".into())
}

/// Authenticates a user for the served channels (git asks for Basic on 401).
pub async fn served_user(req: &Request, env: &Env, store: &Store) -> Result<UserRow, ApiError> {
    match authenticate(req, env, store, Channel::Served).await? {
        Some(Principal::User(u)) => Ok(u),
        Some(Principal::BootstrapAdmin) => Err(ApiError::forbidden(
            "ADMIN_TOKEN has no marketplace; use a user's token",
        )),
        None => Err(ApiError::unauthorized().with_challenge()),
    }
}

/// The caller and what storage holds of their view (with the files when
/// `files`). A token (Basic or Bearer) is checked in the same D1 round trip
/// that loads the view; a session or Cloudflare Access sign-in takes one
/// more.
pub async fn served_view(
    req: &Request,
    env: &Env,
    store: &Store,
    files: bool,
) -> Result<(UserRow, UserView), ApiError> {
    let header = req.headers().get("Authorization")?;
    if let Some(cred) = header.as_deref().and_then(parse_authorization) {
        if is_admin_token(cred.secret(), env) {
            return Err(ApiError::forbidden(
                "ADMIN_TOKEN has no marketplace; use a user's token",
            ));
        }
        return store
            .user_view_by_token(&token_hash(cred.secret()), files)
            .await?
            .ok_or_else(|| ApiError::unauthorized().with_challenge());
    }
    let user = served_user(req, env, store).await?;
    let uv = store.user_view(user.id, files).await?;
    Ok((user, uv))
}
