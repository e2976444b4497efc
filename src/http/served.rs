//! The channels that serve a user's view: `/marketplace.git` (smart HTTP),
//! `/marketplace.zip` and `/marketplace/info`.
//!
//! Every request is answered from the view's head first (`view.rs`: one D1
//! round trip, plugin rows only); a whole-snapshot fetch of a cached pack
//! pipes `packs/<etag>` from R2. Only a miss, a partial fetch or a ZIP to
//! build loads the files and reads the plugins' pre-compressed entries.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;

use futures_util::stream::{self, Stream, StreamExt, TryStreamExt};
use serde_json::json;
use worker::{Context, Env, Headers, Request, Response, ResponseBody};

use super::error::ApiResult;
use super::git::{git_bytes, git_headers, text, IncomingGit, SERVER};
use super::pack_stream::stream_pack;
use super::pipe::head_then;
use super::segment_pack::{serve_from_segments, Segmented};
use super::view::{
    advertised_head, build_head, build_view, marketplace_name, served_head, served_user,
    served_view,
};
use crate::catalog::served::Origin;
use crate::catalog::version::version_fields;
use crate::git::memory::MemoryRepo;
use crate::git::sideband::{SideBandDeframer, MAX_PAYLOAD_64K};
use crate::git::smart_http::{self, GitBody};
use crate::git::upload_pack::Framing;
use crate::git::upload_pack::{err_packet, PackFramer, PackResponse};
use crate::storage::edge::EdgeKind;
use crate::storage::pack_cache::{zip_key, StoredPack};
use crate::storage::timing::{CacheLayer, Timing};
use crate::storage::{clock_ms, Storage};

/// `/marketplace.git/…`.
pub async fn git(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    storage: &Storage,
    rel: &str,
) -> ApiResult {
    // Push and dumb HTTP are refused before anyone is asked to log in.
    let query = req.url()?.query().map(str::to_owned);
    let is_push = rel == "/git-receive-pack"
        || query
            .as_deref()
            .is_some_and(|q| q.contains("service=git-receive-pack"));
    if is_push {
        return text(403, "push is not supported: this marketplace is read-only");
    }
    let incoming = IncomingGit::read(&mut req, rel).await?;
    if incoming.is_v2_advertisement() {
        // The v2 capability advertisement is the same for everyone and lists
        // no refs: it needs credentials present (so git sends them from the
        // start) but not checked: the next request checks them with the view.
        if req.headers().get("Authorization")?.is_none() {
            served_user(&req, env, storage).await?;
        }
        let resp = smart_http::handle(&incoming.request(), &MemoryRepo::new(), &SERVER);
        if let GitBody::Bytes(b) = resp.body {
            return timed(
                git_bytes(resp.status, resp.content_type, b)?,
                storage,
                None,
                None,
            );
        }
    }
    let started = clock_ms();
    // Everything is first answered from the view's head (plugin rows
    // alone): advertisements, ls-refs, negotiation, and a whole-snapshot
    // fetch whose pack is cached. Only a miss or a partial fetch loads the
    // files, in a second round trip.
    let served = served_head(&req, env, ctx, storage).await?;
    let request = incoming.request();
    let wants = smart_http::wants(&request);
    // A fetch of a commit that is no longer the caller's view: a clone
    // that raced a change gets the view it was shown, if that was within
    // the advertisement window; anything else is `not our ref`.
    let served = match wants.first() {
        Some(want) if !wants.contains(&served.head.commit_id) => {
            advertised_head(env, storage, &served.user, want)
                .await?
                .unwrap_or(served)
        }
        _ => served,
    };
    let head = &served.head;
    let resp = smart_http::handle(&request, head, &SERVER);
    // The view, when a try from segments already loaded all of it.
    let mut loaded = None;
    let whole = match resp.body {
        GitBody::Bytes(b) => {
            // Refs shown: what a fetch of them within the window may want.
            if served.current && wants.is_empty() && resp.status == 200 {
                served.record_advertisement(env, ctx)?;
            }
            return timed(
                git_bytes(resp.status, resp.content_type, b)?,
                storage,
                None,
                None,
            );
        }
        // Planned over the head, a whole-snapshot fetch lists just the commit.
        GitBody::Pack(p) if p.objects == [head.commit_id] => {
            // A side-band-64k client takes the stored form as it is.
            let pipe = matches!(p.framing, Framing::SideBand { max_payload, .. } if max_payload == MAX_PAYLOAD_64K);
            // The data centre's edge copy first, then R2 (which then fills
            // the edge copy after the response).
            let edge = if pipe {
                storage.edge_get(EdgeKind::Pack, &head.etag).await?
            } else {
                None
            };
            let (stored, objects, layer) = match edge {
                Some(hit) => (
                    Some(StoredPack::Pipe(hit.body, hit.size)),
                    hit.objects,
                    CacheLayer::Edge,
                ),
                None => match storage.cached_pack(&head.etag, pipe).await? {
                    Some((stored, objects)) => (Some(stored), objects, CacheLayer::R2),
                    None => (None, None, CacheLayer::Built),
                },
            };
            if let Some(stored) = stored {
                // Age for a later pack GC (and fill the edge), after the response.
                let (later, etag) = (Storage::from_env(env)?, head.etag.clone());
                let fill = pipe && layer == CacheLayer::R2;
                ctx.wait_until(async move {
                    let _ = later.touch_snapshot(&etag).await;
                    if fill {
                        if let Err(e) = later.fill_edge(EdgeKind::Pack, &etag).await {
                            worker::console_error!("filling the edge copy of {etag} failed: {e}");
                        }
                    }
                });
                let body = send_stored(ctx, &p, stored, objects)?;
                return timed(
                    body.with_headers(git_headers(resp.content_type)?),
                    storage,
                    Some(layer),
                    None,
                );
            }
            // A miss: from the plugins' pack segments where it can be.
            if pipe {
                match serve_from_segments(ctx, env, storage, &served, &p, resp.content_type).await?
                {
                    Segmented::Whole(view) => loaded = view,
                    Segmented::Served(resp, piped, cached) => {
                        let build = clock_ms() - started;
                        let timing = Timing {
                            segments: Some(piped),
                            copy: Some(cached),
                            ..trips_timing(storage, Some(CacheLayer::Segments), Some(build))
                        };
                        return with_timing(resp, &timing);
                    }
                }
            }
            true
        }
        GitBody::Pack(_) => false,
    };
    // The files of exactly the view the head names: a catalog change since
    // (between this request's two reads, or since an advertisement) that
    // touched its plugins means it can no longer be built.
    let view = match loaded {
        Some(view) => Some(view),
        None => served.load_view(env, storage).await?,
    };
    let Some(view) = view else {
        return timed(
            git_bytes(
                200,
                resp.content_type,
                err_packet(
                    "the marketplace changed while this request was in flight and the version \
                     you were shown can no longer be built; run the command again",
                ),
            )?,
            storage,
            None,
            None,
        );
    };
    let resp = smart_http::handle(&request, &view.snapshot, &SERVER);
    match resp.body {
        GitBody::Bytes(b) => timed(
            git_bytes(resp.status, resp.content_type, b)?,
            storage,
            None,
            None,
        ),
        // A miss streams the pack while storing it; a partial fetch only
        // streams.
        GitBody::Pack(p) => {
            let build = clock_ms() - started;
            timed(
                stream_pack(ctx, env, view, &p, resp.content_type, whole)?,
                storage,
                Some(CacheLayer::Built),
                Some(build),
            )
        }
    }
}

/// A cached pack as `p` asks for it: piped untouched to a side-band-64k
/// client, else deframed (if stored framed) and framed again.
fn send_stored(
    ctx: &Context,
    p: &PackResponse,
    stored: StoredPack,
    objects: Option<usize>,
) -> worker::Result<Response> {
    let count = objects.unwrap_or(p.objects.len());
    match stored {
        StoredPack::Pipe(body, size) => {
            head_then(ctx, PackFramer::start_counted(p, count).1, body, size)
        }
        StoredPack::FramedChunks(chunks) => {
            let deframer = Rc::new(RefCell::new(SideBandDeframer::default()));
            let raw = chunks.map(move |chunk| {
                deframer
                    .borrow_mut()
                    .push(&chunk?)
                    .map_err(|e| worker::Error::RustError(e.to_string()))
            });
            Response::from_stream(framed_stream(p, count, raw))
        }
    }
}

/// Adds `Server-Timing` (see `trips_timing`).
fn timed(
    resp: Response,
    storage: &Storage,
    layer: Option<CacheLayer>,
    build_ms: Option<f64>,
) -> ApiResult {
    with_timing(resp, &trips_timing(storage, layer, build_ms))
}

/// The round trips `storage` made before the response (a streamed miss
/// reads its entries after), the layer that answered, and the build time.
fn trips_timing(storage: &Storage, layer: Option<CacheLayer>, build_ms: Option<f64>) -> Timing {
    let (d1, r2) = storage.trips();
    Timing {
        d1,
        r2,
        layer,
        build_ms,
        ..Timing::default()
    }
}

/// `resp` with `timing` as its `Server-Timing`.
fn with_timing(mut resp: Response, timing: &Timing) -> ApiResult {
    resp.headers_mut().set("Server-Timing", &timing.header())?;
    Ok(resp)
}

/// `p`'s head, the pack chunks (of `objects` objects) from `pack` framed as
/// `p` asks, then its tail.
fn framed_stream(
    p: &PackResponse,
    objects: usize,
    pack: impl Stream<Item = worker::Result<Vec<u8>>> + 'static,
) -> Pin<Box<dyn Stream<Item = worker::Result<Vec<u8>>>>> {
    let (framer, head) = PackFramer::start_counted(p, objects);
    let framer = Rc::new(RefCell::new(framer));
    let feeding = Rc::clone(&framer);
    let body = pack.map_ok(move |chunk| feeding.borrow_mut().frame(&chunk));
    let end = stream::once(async move { Ok(framer.borrow_mut().finish()) });
    Box::pin(stream::once(async move { Ok(head) }).chain(body).chain(end))
}

/// `GET /marketplace/info`: the view's ETag, commit and plugins.
pub async fn info(req: Request, env: &Env, storage: &Storage) -> ApiResult {
    let (_, uv) = served_view(&req, env, storage, false).await?;
    let view = build_head(env, uv)?;
    let plugins: Vec<_> = view
        .plugins
        .iter()
        .map(|p| {
            let mut v =
                json!({ "name": p.manifest_name, "directory": format!("plugins/{}", p.dir) });
            if let Some(obj) = v.as_object_mut() {
                obj.extend(version_fields(p.version.as_deref()));
            }
            if !p.past_names.is_empty() {
                v["renamed_from"] = json!(p.past_names);
            }
            match &p.origin {
                Origin::Curated(k) => {
                    v["marketplace"] = json!(k.slug.as_str());
                    v["plugin"] = json!(k.plugin.as_str());
                }
                Origin::Store { id } => v["store_entity"] = json!(id),
                Origin::Bundle => v["store_bundle"] = json!(true),
            }
            v
        })
        .collect();
    super::json(
        200,
        &json!({ "name": marketplace_name(env), "etag": view.head.etag.as_str(), "commit": view.head.commit_id.to_hex(), "plugins": plugins }),
    )
}

/// `GET /marketplace.zip`: the same tree as a deterministic ZIP, with the
/// view's ETag as a strong `ETag` (so `If-None-Match` gives 304).
pub async fn zip(req: Request, env: &Env, ctx: &Context, storage: &Storage) -> ApiResult {
    // The head names the ZIP; only a miss needs the files.
    let view_etag = served_head(&req, env, ctx, storage).await?.head.etag;
    let etag = format!("\"{view_etag}\"");
    let headers = Headers::new();
    headers.set("ETag", &etag)?;
    headers.set("Cache-Control", "private, no-cache")?;
    let inm = req.headers().get("If-None-Match")?;
    if inm.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return timed(
            Response::empty()?.with_status(304).with_headers(headers),
            storage,
            None,
            None,
        );
    }
    headers.set("Content-Type", "application/zip")?;
    headers.set(
        "Content-Disposition",
        "attachment; filename=\"marketplace.zip\"",
    )?;
    if let Some(hit) = storage.edge_get(EdgeKind::Zip, &view_etag).await? {
        if let Some(size) = hit.size {
            headers.set("Content-Length", &size.to_string())?;
        }
        // Age for a later GC, after the response.
        let (later, etag) = (Storage::from_env(env)?, view_etag.clone());
        ctx.wait_until(async move {
            let _ = later.touch_snapshot(&etag).await;
        });
        let resp = Response::from_body(ResponseBody::Stream(hit.body))?.with_headers(headers);
        return timed(resp, storage, Some(CacheLayer::Edge), None);
    }
    if let Some((body, size)) = storage.object_body(&zip_key(&view_etag)).await? {
        headers.set("Content-Length", &size.to_string())?;
        // Fill this data centre's edge copy from R2, after the response.
        let (later, fill) = (Storage::from_env(env)?, view_etag.clone());
        ctx.wait_until(async move {
            let _ = later.touch_snapshot(&fill).await;
            if let Err(e) = later.fill_edge(EdgeKind::Zip, &fill).await {
                worker::console_error!("filling the edge copy of ZIP {fill} failed: {e}");
            }
        });
        let resp = Response::from_body(ResponseBody::Stream(body))?.with_headers(headers);
        return timed(resp, storage, Some(CacheLayer::R2), None);
    }
    let started = clock_ms();
    storage.failpoint("zip-build").await;
    let (_, uv) = served_view(&req, env, storage, true).await?;
    let view = build_view(env, uv)?;
    // The view may have changed since its head was read: the ETag sent is
    // always the one of the content sent (it is not stored under the old
    // one either; see `stream_and_store`).
    if view.snapshot.etag != view_etag {
        headers.set("ETag", &format!("\"{}\"", view.snapshot.etag))?;
    }
    let build = clock_ms() - started;
    let resp = super::zip_stream::stream_and_store(ctx, env, view, view_etag, headers)?;
    timed(resp, storage, Some(CacheLayer::Built), Some(build))
}
