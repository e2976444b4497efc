//! Edge storage: the only code that touches D1, R2 and the Cache API. It
//! loads and saves plain structs; all decisions are made by `catalog` and
//! `git`. `Storage` (in `handle.rs`) is the handle every query goes
//! through; each other file holds the queries of one concern.
//!
//! Only `timing` is pure and compiles natively (for its unit tests); the
//! rest is the Worker's, on wasm32.

/// The SQL condition that a token row (columns prefixed by `$t`, e.g.
/// `"t."`) may still be used: not revoked, not expired, and its user not
/// disabled.
#[cfg(target_arch = "wasm32")]
macro_rules! live_token {
    ($t:literal) => {
        concat!(
            $t,
            "revoked_at IS NULL AND (",
            $t,
            "expires_at IS NULL OR ",
            $t,
            "expires_at > unixepoch()) AND ",
            $t,
            "user_id IN (SELECT id FROM users WHERE disabled_at IS NULL)"
        )
    };
}

#[cfg(target_arch = "wasm32")]
pub mod access;
#[cfg(target_arch = "wasm32")]
pub mod advertised;
#[cfg(target_arch = "wasm32")]
pub mod audit;
#[cfg(target_arch = "wasm32")]
pub mod auth;
#[cfg(target_arch = "wasm32")]
pub mod catalog;
#[cfg(target_arch = "wasm32")]
pub mod edge;
#[cfg(target_arch = "wasm32")]
pub mod entries;
#[cfg(target_arch = "wasm32")]
mod error;
#[cfg(target_arch = "wasm32")]
pub mod gc;
#[cfg(target_arch = "wasm32")]
mod handle;
#[cfg(target_arch = "wasm32")]
pub mod local_dev;
#[cfg(target_arch = "wasm32")]
mod objects;
#[cfg(target_arch = "wasm32")]
pub mod pack_cache;
#[cfg(target_arch = "wasm32")]
pub mod segments;
#[cfg(target_arch = "wasm32")]
pub mod served_names;
#[cfg(target_arch = "wasm32")]
pub mod sources;
#[cfg(target_arch = "wasm32")]
mod sql;
#[cfg(target_arch = "wasm32")]
pub mod store;
#[cfg(target_arch = "wasm32")]
pub mod store_review;
#[cfg(target_arch = "wasm32")]
pub mod store_versions;
#[cfg(target_arch = "wasm32")]
mod store_writes;
pub mod timing;
#[cfg(target_arch = "wasm32")]
pub mod uploads;
#[cfg(target_arch = "wasm32")]
pub mod users;
#[cfg(target_arch = "wasm32")]
pub mod view;
#[cfg(target_arch = "wasm32")]
pub mod view_rows;
#[cfg(target_arch = "wasm32")]
pub mod writers;

#[cfg(target_arch = "wasm32")]
pub(crate) use error::{db_err, is_not_null_violation, is_unique_violation, r2_err};
#[cfg(target_arch = "wasm32")]
pub use error::{StorageError, StorageResult};
#[cfg(target_arch = "wasm32")]
pub(crate) use handle::rows_changed;
#[cfg(target_arch = "wasm32")]
pub use handle::{clock_ms, Storage};
#[cfg(target_arch = "wasm32")]
pub(crate) use sql::{
    file_rows_from, file_rows_from_json, file_rows_json, json_column, key, n, opt, random_id, s,
    served_file,
};
#[cfg(target_arch = "wasm32")]
pub use sql::{now, random_bytes};
