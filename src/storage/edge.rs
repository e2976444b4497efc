//! The edge tier: finished packs and ZIPs also kept in the serving data
//! centre's Cache API, in front of R2.
//!
//! Invariants: an entry's key derives from the view's ETag alone (a
//! synthetic URL no client can request), so only a request whose resolved
//! view has that ETag can reach it, and it can never serve the wrong view;
//! it holds the pack in its stored form (see `blobs::StoredPack`) with a
//! `Cache-Tag` of the ETag, for a zone-wide purge by tag (a Cache API
//! delete reaches only the local data centre; `purge_zone_tags` asks
//! Cloudflare's API for the rest). The Cache API acts only on a custom
//! domain or route: on `workers.dev` every call is a no-op and R2 answers.

use worker::{Cache, Fetch, Headers, Method, Request, RequestInit, Response, ResponseBody};

use super::pack_cache::{pack_key, zip_key, PACK_FORMAT_FRAMED, PACK_FORMAT_KEY, PACK_OBJECTS_KEY};
use super::{r2_err, Storage, StorageError, StorageResult};
use crate::catalog::etag::Etag;

/// How long an edge copy lives without a purge (its content never changes).
const EDGE_MAX_AGE_SECONDS: u32 = 30 * 24 * 3600;

/// Header carrying the pack's object count on the edge copy.
const OBJECTS_HEADER: &str = "X-Pack-Objects";

/// What an edge entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// A view's pack in its stored form.
    Pack,
    /// A view's ZIP.
    Zip,
}

impl EdgeKind {
    /// The R2 key of the same object.
    fn r2_key(self, etag: &Etag) -> String {
        match self {
            EdgeKind::Pack => pack_key(etag),
            EdgeKind::Zip => zip_key(etag),
        }
    }
}

/// An edge copy found: its body for the runtime to pipe, its length and
/// (for a pack) its object count, when recorded.
pub struct EdgeHit {
    pub body: worker::web_sys::ReadableStream,
    pub size: Option<u64>,
    pub objects: Option<usize>,
}

/// The synthetic URL an entry lives under (never a route of this Worker).
fn edge_key(kind: EdgeKind, etag: &Etag) -> String {
    let folder = match kind {
        EdgeKind::Pack => "packs",
        EdgeKind::Zip => "zips",
    };
    format!("https://edge.marketplace-edge.invalid/{folder}/{etag}")
}

/// Cloudflare's API for purging a zone's cache by tag, when configured.
#[derive(Debug, Clone)]
pub struct ZonePurge {
    /// `https://api.cloudflare.com/client/v4` (tests point it elsewhere).
    pub api_base: String,
    pub zone_id: String,
    pub token: String,
}

/// Tags per purge request (Cloudflare accepts up to 100; stay well under).
const TAGS_PER_PURGE: usize = 30;

fn cache_err(e: worker::Error) -> StorageError {
    StorageError::EdgeCache(e.to_string())
}

fn purge_err(e: worker::Error) -> StorageError {
    StorageError::ZonePurge(e.to_string())
}

impl Storage {
    /// The edge copy of `etag`'s `kind` and, for a pack, its object count.
    pub async fn edge_get(&self, kind: EdgeKind, etag: &Etag) -> StorageResult<Option<EdgeHit>> {
        let Some(resp) = Cache::default()
            .get(edge_key(kind, etag), true)
            .await
            .map_err(cache_err)?
        else {
            return Ok(None);
        };
        let header = |name: &str| -> StorageResult<Option<String>> {
            resp.headers().get(name).map_err(cache_err)
        };
        let objects = header(OBJECTS_HEADER)?.and_then(|n| n.parse().ok());
        let size = header("Content-Length")?.and_then(|n| n.parse().ok());
        let web: worker::web_sys::Response = resp.into();
        Ok(web.body().map(|body| EdgeHit {
            body,
            size,
            objects,
        }))
    }

    /// Copies `etag`'s `kind` from R2 into the edge tier, streaming
    /// (memory stays bounded; meant to run after the response). Packs go
    /// only in their stored (framed) form.
    pub async fn fill_edge(&self, kind: EdgeKind, etag: &Etag) -> StorageResult<()> {
        let Some(obj) = self
            .r2(self.bucket.get(kind.r2_key(etag)).execute())
            .await
            .map_err(r2_err)?
        else {
            return Ok(());
        };
        let meta = obj.custom_metadata().map_err(r2_err)?;
        if kind == EdgeKind::Pack
            && meta.get(PACK_FORMAT_KEY).map(String::as_str) != Some(PACK_FORMAT_FRAMED)
        {
            return Ok(());
        }
        let size = obj.size();
        let Some(body) = obj.body() else {
            return Ok(());
        };
        let ResponseBody::Stream(stream) = body.response_body().map_err(r2_err)? else {
            return Ok(());
        };
        let headers = Headers::new();
        headers
            .set("Content-Length", &size.to_string())
            .map_err(cache_err)?;
        headers
            .set(
                "Cache-Control",
                &format!("public, max-age={EDGE_MAX_AGE_SECONDS}"),
            )
            .map_err(cache_err)?;
        headers.set("Cache-Tag", etag.as_str()).map_err(cache_err)?;
        if let Some(n) = meta.get(PACK_OBJECTS_KEY) {
            headers.set(OBJECTS_HEADER, n).map_err(cache_err)?;
        }
        let resp = Response::from_body(ResponseBody::Stream(stream))
            .map_err(cache_err)?
            .with_headers(headers);
        Cache::default()
            .put(edge_key(kind, etag), resp)
            .await
            .map_err(cache_err)
    }

    /// Purges the edge copies of `etags` in every data centre of the zone
    /// (a Cache API delete reaches only the local one).
    pub async fn purge_zone_tags(&self, zone: &ZonePurge, etags: &[Etag]) -> StorageResult<()> {
        let url = format!(
            "{}/zones/{}/purge_cache",
            zone.api_base.trim_end_matches('/'),
            zone.zone_id
        );
        for batch in etags.chunks(TAGS_PER_PURGE) {
            let tags: Vec<&str> = batch.iter().map(Etag::as_str).collect();
            let body = serde_json::json!({ "tags": tags }).to_string();
            let headers = Headers::new();
            headers
                .set("Authorization", &format!("Bearer {}", zone.token))
                .map_err(purge_err)?;
            headers
                .set("Content-Type", "application/json")
                .map_err(purge_err)?;
            let mut init = RequestInit::new();
            init.with_method(Method::Post)
                .with_headers(headers)
                .with_body(Some(body.into()));
            let req = Request::new_with_init(&url, &init).map_err(purge_err)?;
            let mut resp = Fetch::Request(req).send().await.map_err(purge_err)?;
            let status = resp.status_code();
            let text = resp.text().await.unwrap_or_default();
            let ok = status == 200
                && serde_json::from_str::<serde_json::Value>(&text)
                    .is_ok_and(|v| v["success"] == serde_json::Value::Bool(true));
            if !ok {
                return Err(StorageError::ZonePurge(format!(
                    "the zone purge answered HTTP {status}"
                )));
            }
        }
        Ok(())
    }

    /// Drops the edge copies of `etag`'s pack and ZIP in this data centre.
    pub async fn purge_edge(&self, etag: &Etag) -> StorageResult<()> {
        for kind in [EdgeKind::Pack, EdgeKind::Zip] {
            Cache::default()
                .delete(edge_key(kind, etag), true)
                .await
                .map_err(cache_err)?;
        }
        Ok(())
    }
}
