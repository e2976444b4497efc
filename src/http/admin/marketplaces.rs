//! `/api/admin/marketplaces…` and `/api/admin/plugins…`: importing and
//! deleting curated marketplaces, following an upstream (source, sync),
//! disabling plugins and choosing their served names.

use serde::Deserialize;
use serde_json::json;
use worker::{Env, Method, Request};

use crate::catalog::names::Slug;
use crate::catalog::secret_name::SecretName;
use crate::catalog::served_names::NewServedName;
use crate::catalog::version::version_fields;
use crate::http::error::{ApiError, ApiResult};
use crate::http::route::Marketplaces;
use crate::http::{json, no_content, read_json};
use crate::storage::catalog::PluginRow;
use crate::storage::served_names::Renamed;
use crate::storage::Storage;

#[derive(Deserialize)]
struct RenameBody {
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

/// A plugin row as the admin API shows it: the author's version and the
/// content digest apart as well as the served version.
fn plugin_json(p: &PluginRow) -> serde_json::Value {
    let mut v = json!(p);
    if let Some(obj) = v.as_object_mut() {
        obj.extend(version_fields(p.version.as_deref()));
    }
    v
}

/// Answers one `Marketplaces` route.
pub(super) async fn route(
    mut req: Request,
    env: &Env,
    storage: &Storage,
    route: Marketplaces<'_>,
) -> ApiResult {
    match route {
        Marketplaces::Import { slug } => crate::http::import::import(&mut req, storage, slug).await,
        Marketplaces::List => json(
            200,
            &json!({ "marketplaces": storage.list_marketplaces().await? }),
        ),
        Marketplaces::Get { slug } => {
            let source = storage.source(slug).await?;
            let plugins = storage.marketplace_plugins(slug).await?;
            if plugins.is_none() && source.is_none() {
                return Err(ApiError::missing(format!("marketplace `{slug}`")));
            }
            json(
                200,
                &json!({
                    "slug": slug,
                    "plugins": plugins.unwrap_or_default().iter().map(plugin_json).collect::<Vec<_>>(),
                    "source": source.as_ref().map(crate::http::sync::source_json),
                }),
            )
        }
        Marketplaces::SetSource { slug } => {
            let slug = Slug::parse(slug)?;
            let body: SourceBody = read_json(&mut req).await?;
            crate::http::remote::Remote::new(&body.url, None)?;
            for name in [&body.auth_secret, &body.webhook_secret]
                .into_iter()
                .flatten()
            {
                SecretName::parse(name)?;
            }
            let git_ref = body.git_ref.filter(|r| !r.trim().is_empty());
            storage
                .put_source(
                    slug.as_str(),
                    body.url.trim_end_matches('/'),
                    &git_ref,
                    &body.auth_secret,
                    &body.webhook_secret,
                )
                .await?;
            let src = storage
                .source(slug.as_str())
                .await?
                .ok_or_else(|| ApiError::missing("the source"))?;
            json(
                200,
                &json!({ "slug": slug.as_str(), "source": crate::http::sync::source_json(&src) }),
            )
        }
        Marketplaces::RemoveSource { slug } => {
            if storage.delete_source(slug).await? {
                no_content()
            } else {
                Err(ApiError::missing(format!("a source for `{slug}`")))
            }
        }
        Marketplaces::Sync { slug } => {
            let state =
                crate::http::sync::sync(env, storage, slug, crate::http::sync::Trigger::Admin)
                    .await?;
            json(200, &json!({ "slug": slug, "source": state }))
        }
        Marketplaces::Delete { slug } => {
            if storage.delete_marketplace(slug).await? {
                no_content()
            } else {
                Err(ApiError::missing(format!("marketplace `{slug}`")))
            }
        }
        Marketplaces::Disable { slug, plugin } | Marketplaces::Enable { slug, plugin } => {
            if storage
                .set_disabled(slug, plugin, req.method() == Method::Put)
                .await?
            {
                no_content()
            } else {
                Err(ApiError::missing(format!("plugin `{slug}/{plugin}`")))
            }
        }
        Marketplaces::Rename { slug, plugin } => {
            let body: RenameBody = read_json(&mut req).await?;
            let name = NewServedName::parse(body.name.trim())?;
            match storage.rename_plugin(slug, plugin, &name).await? {
                Renamed::Done { from } => json(
                    200,
                    &json!({ "marketplace": slug, "plugin": plugin, "served_name": name.as_str(), "previous": from }),
                ),
                Renamed::Taken { holder } => Err(ApiError::new(
                    409,
                    "name_taken",
                    format!(
                        "`{}` is served for `{holder}` (now or before a rename, so that members' installs under it stay theirs); choose another name",
                        name.as_str()
                    ),
                )),
                Renamed::NoPlugin => Err(ApiError::missing(format!("plugin `{slug}/{plugin}`"))),
            }
        }
    }
}
