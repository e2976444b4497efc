//! The HTTP layer: `route` names every route (and its audit action),
//! `router` hands each request to a thin handler that delegates to storage
//! and the pure layers, and turns every `ApiError` into a response in one
//! place. The handlers are the Worker's, on wasm32; the pure parts
//! (`percent`, `request_log`, `route`, `schedule`) compile natively too,
//! for their unit tests.

pub mod percent;
pub mod request_log;
pub mod route;
pub mod schedule;

#[cfg(target_arch = "wasm32")]
mod admin;
#[cfg(target_arch = "wasm32")]
mod auth;
#[cfg(target_arch = "wasm32")]
mod body;
#[cfg(target_arch = "wasm32")]
mod cron;
#[cfg(target_arch = "wasm32")]
mod error;
#[cfg(target_arch = "wasm32")]
mod git;
#[cfg(target_arch = "wasm32")]
mod hooks;
#[cfg(target_arch = "wasm32")]
mod import;
#[cfg(target_arch = "wasm32")]
mod me;
#[cfg(target_arch = "wasm32")]
mod native_sha1;
#[cfg(target_arch = "wasm32")]
mod pack_stream;
#[cfg(target_arch = "wasm32")]
mod pipe;
#[cfg(target_arch = "wasm32")]
mod remote;
#[cfg(target_arch = "wasm32")]
mod router;
#[cfg(target_arch = "wasm32")]
mod segment_build;
#[cfg(target_arch = "wasm32")]
mod segment_copy;
#[cfg(target_arch = "wasm32")]
mod segment_pack;
#[cfg(target_arch = "wasm32")]
mod served;
#[cfg(target_arch = "wasm32")]
mod store;
#[cfg(target_arch = "wasm32")]
mod store_upload;
#[cfg(target_arch = "wasm32")]
mod store_versions;
#[cfg(target_arch = "wasm32")]
mod sync;
#[cfg(target_arch = "wasm32")]
mod tee;
#[cfg(target_arch = "wasm32")]
mod view;
#[cfg(target_arch = "wasm32")]
mod zip_stream;

#[cfg(target_arch = "wasm32")]
pub(crate) use body::{json, no_content, read_body, read_form, read_json, Query};
#[cfg(target_arch = "wasm32")]
pub use cron::scheduled;
#[cfg(target_arch = "wasm32")]
pub use router::route;
