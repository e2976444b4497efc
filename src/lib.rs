//! marketplace-edge: per-user Claude Code plugin marketplaces served as git
//! repositories from a Cloudflare Worker.
//!
//! Layers (dependencies point down only): entry (wasm32) → `http` →
//! `storage` → `catalog` → `git`. The pure layers compile natively so `cargo test` covers them.

pub mod audit;
pub mod catalog;
pub mod cf_access;
pub mod credentials;
pub mod demo;
pub mod git;
pub mod percent;
pub mod request_log;
pub mod session;
pub mod timing;
pub mod webhook;

#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod storage;

/// The `agent=` string this server sends.
pub const AGENT: &str = concat!("marketplace-edge/", env!("CARGO_PKG_VERSION"));

#[cfg(target_arch = "wasm32")]
mod entry {
    use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

    #[event(start)]
    fn start() {
        console_error_panic_hook::set_once();
    }

    #[event(fetch)]
    async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
        crate::http::route(req, env, ctx).await
    }

    /// The garbage collector's schedule in `wrangler.toml`; every other
    /// schedule syncs the upstream sources.
    const GC_CRON: &str = "17 3 * * *";

    #[event(scheduled)]
    async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
        if event.cron() == GC_CRON {
            crate::http::scheduled_gc(&env).await;
        } else {
            crate::http::scheduled_sync(&env).await;
        }
    }
}
