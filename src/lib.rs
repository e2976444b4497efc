//! marketplace-edge: per-user Claude Code plugin marketplaces served as git
//! repositories from a Cloudflare Worker.
//!
//! Four floors, each importing only from the floors below it: `http` (the
//! Worker's handlers) → `storage` (D1, R2, the Cache API) → `catalog` (pure
//! domain logic) → `git` (the pure git engine). `catalog` and `git`, and
//! the pure files of `storage` and `http`, compile natively so `cargo test`
//! covers them; this file holds only the Worker's entry points.

pub mod catalog;
pub mod git;

pub mod http;
pub mod storage;

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

    #[event(scheduled)]
    async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
        crate::http::scheduled(&event.cron(), &env).await;
    }
}
