//! Shared helpers for the integration tests: the real `git` CLI, a small
//! std HTTP server around the pure `smart_http` layer, a raw HTTP client for
//! hostile requests, and the clone checks run against both that server and
//! the Worker under `wrangler dev`.
#![allow(dead_code)]

pub mod api;
pub mod archives;
pub mod bench;
pub mod checks;
pub mod claude;
pub mod corpus;
pub mod demo;
pub mod git_cli;
pub mod http_backend;
pub mod http_client;
pub mod http_server;
pub mod load;
pub mod store;
pub mod toolchain;
pub mod wrangler;
