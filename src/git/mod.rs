//! The git engine: objects, trees, packs, pkt-lines and upload-pack.
//!
//! Pure: no I/O, no `worker` types. It compiles natively and to
//! `wasm32-unknown-unknown`, and its tests run against the real `git`.

pub mod body;
pub mod client;
pub mod hex;
pub mod memory;
pub mod negotiate;
pub mod object;
pub mod oid;
pub mod pack;
pub mod path;
pub mod pktline;
pub mod repo;
pub mod sideband;
pub mod smart_http;
pub mod tree;
pub mod unpack;
pub mod upload_pack;

/// The `agent=` string this server (and its git client) sends.
pub const AGENT: &str = concat!("marketplace-edge/", env!("CARGO_PKG_VERSION"));

pub use object::ObjectKind;
pub use oid::ObjectId;
pub use path::RepoPath;
pub use tree::FileMode;
