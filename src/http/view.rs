//! The served view: who is asking (token, session or Cloudflare Access)
//! and what they are served, resolved from storage into either the view's
//! head (plugin rows alone: advertisements, `ls-refs`, info, cached
//! packs) or the full snapshot with every file (a pack or ZIP to build).

use worker::{Context, Env, Request};

use super::auth::{authenticate, is_admin_token, Channel, Principal};
use super::error::ApiError;
use crate::catalog::auth::credentials::parse_authorization;
use crate::catalog::auth::token::token_hash;
use crate::catalog::definition::ViewDefinition;
use crate::catalog::etag::{Etag, ETAG_FORMAT};
use crate::catalog::resolve::served_keys;
use crate::catalog::served::{one_per_dir, Origin, ServedPlugin};
use crate::catalog::snapshot::Snapshot;
use crate::catalog::store_view::store_plugins;
use crate::catalog::summary::{HeadIds, PluginSummary, ServedMarketplace, SnapshotHead};
use crate::git::tree::TreeError;
use crate::git::ObjectId;
use crate::storage::advertised::ADVERTISEMENT_REFRESH_SECS;
use crate::storage::users::UserRow;
use crate::storage::view_rows::{Definition, MemoRow, UserView, Viewer};
use crate::storage::Storage;

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
    let (plugins, clashing) = one_per_dir(plugins);
    for p in clashing {
        worker::console_error!(
            "not serving {:?}: its directory plugins/{} is another plugin's (re-import its marketplace to see which)",
            p.origin,
            p.dir
        );
    }
    Ok(plugins)
}

/// The full view (files loaded): what a fetch or the ZIP needs.
pub fn build_view(env: &Env, uv: UserView) -> Result<View, ApiError> {
    let plugins = served_plugins(uv)?;
    let snapshot = Snapshot::build(&served_marketplace(env), &plugins).map_err(tree_err)?;
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
    let head = SnapshotHead::build(&served_marketplace(env), &summaries).map_err(tree_err)?;
    Ok(Head { plugins, head })
}

/// The served marketplace's name (`MARKETPLACE_NAME`), which members
/// install plugins under.
pub fn marketplace_name(env: &Env) -> String {
    env.var("MARKETPLACE_NAME")
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "marketplace-edge".into())
}

/// The served marketplace: its name, and whether it asks Claude Code to
/// uninstall plugins it no longer lists (`FORCE_REMOVE_DELETED_PLUGINS`,
/// on unless set to `false` or `0`).
pub fn served_marketplace(env: &Env) -> ServedMarketplace {
    let force = env
        .var("FORCE_REMOVE_DELETED_PLUGINS")
        .map(|v| v.to_string())
        .unwrap_or_default();
    ServedMarketplace {
        name: marketplace_name(env),
        force_remove_deleted: !matches!(force.trim(), "false" | "0"),
    }
}

/// Authenticates a user for the served channels (git asks for Basic on 401).
pub async fn served_user(req: &Request, env: &Env, storage: &Storage) -> Result<UserRow, ApiError> {
    match authenticate(req, env, storage, Channel::Served).await? {
        Some(Principal::User(u)) => Ok(u),
        Some(Principal::BootstrapAdmin) => Err(ApiError::forbidden(
            "ADMIN_TOKEN has no marketplace; use a user's token",
        )),
        None => Err(ApiError::unauthorized().with_challenge()),
    }
}

/// Who a served request comes from: a token to check in the same round
/// trip as the view, or a user already signed in by session or Access.
enum Caller {
    TokenHash(String),
    User(UserRow),
}

async fn caller(req: &Request, env: &Env, storage: &Storage) -> Result<Caller, ApiError> {
    let header = req.headers().get("Authorization")?;
    if let Some(cred) = header.as_deref().and_then(parse_authorization) {
        if is_admin_token(cred.secret(), env)? {
            return Err(ApiError::forbidden(
                "ADMIN_TOKEN has no marketplace; use a user's token",
            ));
        }
        return Ok(Caller::TokenHash(token_hash(cred.secret())));
    }
    Ok(Caller::User(served_user(req, env, storage).await?))
}

/// The caller and what storage holds of their view (with the files when
/// `files`). A token (Basic or Bearer) is checked in the same D1 round trip
/// that loads the view; a session or Cloudflare Access sign-in takes one
/// more.
pub async fn served_view(
    req: &Request,
    env: &Env,
    storage: &Storage,
    files: bool,
) -> Result<(UserRow, UserView), ApiError> {
    match caller(req, env, storage).await? {
        Caller::TokenHash(hash) => {
            let (user, uv) = storage
                .user_view_by_token(&hash, files)
                .await?
                .ok_or_else(|| ApiError::unauthorized().with_challenge())?;
            storage.note_actor(Some(user.id), &user.username);
            storage.note_token(&hash);
            Ok((user, uv))
        }
        Caller::User(user) => {
            let uv = storage.user_view(user.id, files).await?;
            Ok((user, uv))
        }
    }
}

/// What a memoised head is valid for besides the catalog: the ETag format,
/// the marketplace name and its removal flag, which all go into the commit.
fn memo_key(env: &Env) -> String {
    let market = served_marketplace(env);
    format!(
        "{ETAG_FORMAT}:{}:{}",
        market.force_remove_deleted as u8, market.name
    )
}

/// A served head: the caller, their view's head ids, and how to load the
/// view those ids name.
pub struct ServedHead {
    pub user: UserRow,
    pub head: HeadIds,
    /// The view's definition as JSON when in hand (a head just built, or
    /// an advertisement's); else the one stored under the head's ETag.
    definition: Option<String>,
    /// Whether this is the caller's current view (not an earlier one
    /// advertised to them moments ago).
    pub current: bool,
    /// When showing it to the caller was last recorded, if known.
    advertised_at: Option<i64>,
}

impl ServedHead {
    fn definition(&self) -> Definition<'_> {
        match &self.definition {
            Some(json) => Definition::Json(json),
            None => Definition::Stored(self.head.etag.as_str()),
        }
    }

    /// The full view these ids name, with every file, if the catalog still
    /// makes exactly it (same ETag and commit); `None` once it no longer
    /// does (a plugin in it changed, or its definition is gone).
    pub async fn load_view(&self, env: &Env, storage: &Storage) -> Result<Option<View>, ApiError> {
        self.load_view_with(env, storage, true).await
    }

    /// As `load_view`; without `all_files`, current curated plugins and
    /// Store plugins come with their stored tree and digest but no files,
    /// and the snapshot leaves their objects out (for their pack segments).
    pub async fn load_view_with(
        &self,
        env: &Env,
        storage: &Storage,
        all_files: bool,
    ) -> Result<Option<View>, ApiError> {
        let Some(uv) = storage.defined_view(self.definition(), all_files).await? else {
            return Ok(None);
        };
        let view = build_view(env, uv)?;
        let same =
            view.snapshot.etag == self.head.etag && view.snapshot.commit_id == self.head.commit_id;
        Ok(same.then_some(view))
    }

    /// Records, after the response, that the caller was shown this head
    /// (unless a record of it is fresher than the refresh interval).
    pub fn record_advertisement(&self, env: &Env, ctx: &Context) -> Result<(), ApiError> {
        let now = crate::storage::now();
        if self
            .advertised_at
            .is_some_and(|t| now - t < ADVERTISEMENT_REFRESH_SECS)
        {
            return Ok(());
        }
        let (later, user_id, row) = (Storage::from_env(env)?, self.user.id, memo_row(&self.head));
        ctx.wait_until(async move {
            if let Err(e) = later.record_advertisement(user_id, &row).await {
                worker::console_error!("recording an advertisement to user {user_id} failed: {e}");
            }
        });
        Ok(())
    }
}

/// How long after a ref advertisement a fetch may still want its commit
/// (`ADVERTISEMENT_WINDOW_SECONDS`, 60 by default, at most an hour).
pub fn advertisement_window(env: &Env) -> i64 {
    env.var("ADVERTISEMENT_WINDOW_SECONDS")
        .ok()
        .and_then(|v| v.to_string().trim().parse::<i64>().ok())
        .unwrap_or(60)
        .clamp(0, 3600)
}

/// The head `want` names if it was advertised to `user` within the window
/// (a clone that raced a change to their view), else `None`.
pub async fn advertised_head(
    env: &Env,
    storage: &Storage,
    user: &UserRow,
    want: &ObjectId,
) -> Result<Option<ServedHead>, ApiError> {
    let Some(ad) = storage
        .advertised(user.id, &want.to_hex(), advertisement_window(env))
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(ServedHead {
        user: user.clone(),
        head: head_ids(user, &ad.head())?,
        definition: ad.definition,
        current: false,
        advertised_at: None,
    }))
}

fn memo_row(head: &HeadIds) -> MemoRow {
    MemoRow {
        etag: head.etag.to_string(),
        commit_id: head.commit_id.to_hex(),
        tree_id: head.tree_id.to_hex(),
    }
}

/// Stored head ids, parsed.
fn head_ids(user: &UserRow, m: &MemoRow) -> Result<HeadIds, ApiError> {
    let corrupt = || ApiError::internal(format!("a stored head of user {} is corrupt", user.id));
    Ok(HeadIds::new(
        Etag::parse(&m.etag).ok_or_else(corrupt)?,
        ObjectId::from_hex(m.commit_id.as_bytes()).map_err(|_| corrupt())?,
        ObjectId::from_hex(m.tree_id.as_bytes()).map_err(|_| corrupt())?,
    ))
}

/// The caller and their view's head ids, in one D1 round trip: the
/// memoised head when no view input changed since it was stored (one row,
/// however many plugins), else built from plugin rows and memoised (with
/// the view's definition) after the response.
pub async fn served_head(
    req: &Request,
    env: &Env,
    ctx: &Context,
    storage: &Storage,
) -> Result<ServedHead, ApiError> {
    let key = memo_key(env);
    let (user, uv) = match caller(req, env, storage).await? {
        Caller::TokenHash(hash) => {
            storage.note_token(&hash);
            storage.memo_view(Viewer::TokenHash(&hash), &key).await?
        }
        Caller::User(user) => storage.memo_view(Viewer::Id(user.id), &key).await?,
    };
    let user = user.ok_or_else(|| ApiError::unauthorized().with_challenge())?;
    storage.note_actor(Some(user.id), &user.username);
    if let Some(m) = &uv.memo {
        let head = head_ids(&user, m)?;
        return Ok(ServedHead {
            user,
            head,
            definition: None,
            current: true,
            advertised_at: uv.memo_advertised_at,
        });
    }
    let generation = uv.generation;
    let definition = ViewDefinition::new(
        served_keys(&uv.entitlements).into_iter().filter_map(|k| {
            let digest = uv.plugins.get(&k)?.digest.clone();
            Some((k, digest))
        }),
        uv.installed.iter().map(|e| (e.id, Some(e.digest.clone()))),
    );
    let head = build_head(env, uv)?.head.ids();
    if let Some(generation) = generation {
        let (later, user_id, row) = (Storage::from_env(env)?, user.id, memo_row(&head));
        let definition = definition.clone();
        ctx.wait_until(async move {
            if let Err(e) = later
                .save_memo(user_id, generation, &key, &row, &definition)
                .await
            {
                worker::console_error!("memoising the head of user {user_id} failed: {e}");
            }
        });
    }
    Ok(ServedHead {
        user,
        head,
        definition: Some(definition.to_json()),
        current: true,
        advertised_at: None,
    })
}
