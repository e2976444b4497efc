//! Who a request is, the pure part: reading credentials from headers, the
//! token format and its stored (hashed) form, web UI session cookies and
//! their proof, Cloudflare Access JWT verification, and webhook signatures.
//! The storage layer keeps what these produce; `http::auth` decides a
//! request's identity from them.
//!
//! Invariant: every secret is compared in constant time
//! (`token::secrets_equal`), and only digests of secrets are stored.

pub mod cf_access;
pub mod credentials;
pub mod session;
pub mod token;
pub mod webhook;
