//! The catalog: pure domain logic for marketplaces, plugins, resolution,
//! naming, the served tree, its ETag, archive validation, the Store's rules
//! and authentication's pure parts (`auth`). No I/O and no `worker` types;
//! storage loads plain structs and hands them here.

pub mod access;
pub mod archive;
pub mod auth;
pub mod definition;
pub mod etag;
pub mod frontmatter;
pub mod ingest;
pub mod line_diff;
pub mod marketplace;
pub mod names;
pub mod resolve;
pub mod review;
pub mod scan;
pub mod secret_name;
pub mod segment;
pub mod served;
pub mod served_names;
pub mod snapshot;
pub mod store;
pub mod store_view;
pub mod summary;
pub mod upstream;
pub mod version;
pub mod zip_export;
