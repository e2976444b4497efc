//! Edge storage: the only code that touches D1 and R2. It loads and saves
//! plain structs; all decisions are made by `catalog` and `git`.

/// The SQL condition that a token row (columns prefixed by `$t`, e.g.
/// `"t."`) may still be used: not revoked, not expired, and its user not
/// disabled.
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

pub mod access;
pub mod advertised;
pub mod audit;
pub mod blobs;
pub mod catalog;
pub mod edge;
pub mod sessions;
pub mod sources;
pub mod store;
pub mod throttle;
pub mod uploads;
pub mod users;
pub mod view;
pub mod writers;

use std::cell::Cell;
use std::future::Future;

use serde::de::DeserializeOwned;

use crate::catalog::names::PluginKey;
use crate::catalog::snapshot::{EntryRef, FileSource, ServedFile};
use crate::git::{ObjectId, RepoPath};
use crate::timing::Trips;
use wasm_bindgen::JsValue;
use worker::{Bucket, D1Database, D1PreparedStatement, Env};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Db(String),
    #[error("object storage error: {0}")]
    Bucket(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("garbage collection is running; try again in a minute")]
    GcRunning,
    #[error(
        "you own {} Store entries, the most anyone may; delete one you no longer need first",
        store::MAX_ENTITIES_PER_OWNER
    )]
    TooManyEntities,
}

/// Shorthand for storage results.
pub type StoreResult<T> = Result<T, StorageError>;

pub(crate) fn db_err(e: worker::Error) -> StorageError {
    StorageError::Db(e.to_string())
}

pub(crate) fn r2_err(e: worker::Error) -> StorageError {
    StorageError::Bucket(e.to_string())
}

/// The D1 database and R2 bucket of this deployment, and the round trips
/// made through them so far (for `Server-Timing`).
pub struct Store {
    db: D1Database,
    bucket: Bucket,
    d1_trips: Cell<Trips>,
    r2_trips: Cell<Trips>,
    /// The crash tests' pause point (`FAILPOINT_PAUSE`), if set, and how
    /// long it pauses (`FAILPOINT_PAUSE_SECONDS`, ten minutes by default).
    failpoint: Option<String>,
    failpoint_secs: u64,
    /// Who this request authenticated as (user id and name, or no id and
    /// the bootstrap token's name), for its log line and the audit log.
    actor: std::cell::RefCell<Option<(Option<i64>, String)>>,
    /// The hash of the token it authenticated with, to record its use.
    used_token: std::cell::RefCell<Option<String>>,
}

/// Milliseconds on the isolate's clock. Workers advance it only across
/// I/O, so a duration measures the I/O it spans, not CPU time.
pub fn clock_ms() -> f64 {
    worker::Date::now().as_millis() as f64
}

/// Awaits `call`, adding it to `trips` as one round trip.
async fn counted<T>(trips: &Cell<Trips>, call: impl Future<Output = T>) -> T {
    let start = clock_ms();
    let out = call.await;
    let mut t = trips.get();
    t.add(clock_ms() - start);
    trips.set(t);
    out
}

impl Store {
    /// Opens the `DB` and `BUCKET` bindings.
    pub fn from_env(env: &Env) -> StoreResult<Store> {
        Ok(Store {
            db: env.d1("DB").map_err(db_err)?,
            bucket: env.bucket("BUCKET").map_err(r2_err)?,
            d1_trips: Cell::new(Trips::default()),
            r2_trips: Cell::new(Trips::default()),
            failpoint: env
                .var("FAILPOINT_PAUSE")
                .ok()
                .map(|v| v.to_string())
                .filter(|v| !v.is_empty()),
            failpoint_secs: env
                .var("FAILPOINT_PAUSE_SECONDS")
                .ok()
                .and_then(|v| v.to_string().parse().ok())
                .unwrap_or(600),
            actor: std::cell::RefCell::new(None),
            used_token: std::cell::RefCell::new(None),
        })
    }

    /// Notes the token (by hash) this request authenticated with.
    pub fn note_token(&self, hash: &str) {
        *self.used_token.borrow_mut() = Some(hash.to_string());
    }

    /// The token (by hash) this request authenticated with, if any.
    pub fn used_token(&self) -> Option<String> {
        self.used_token.borrow().clone()
    }

    /// Notes who this request authenticated as: a user (id and name) or
    /// the bootstrap token (no id).
    pub fn note_actor(&self, user_id: Option<i64>, name: &str) {
        *self.actor.borrow_mut() = Some((user_id, name.to_string()));
    }

    /// The name this request authenticated as, if any.
    pub fn actor_name(&self) -> Option<String> {
        self.actor.borrow().as_ref().map(|(_, name)| name.clone())
    }

    /// The user this request authenticated as, if any.
    pub fn actor(&self) -> Option<i64> {
        self.actor.borrow().as_ref().and_then(|(id, _)| *id)
    }

    /// A crash test's pause: when `FAILPOINT_PAUSE` names `point`, logs
    /// `failpoint: paused at <point>` and waits (ten minutes unless
    /// `FAILPOINT_PAUSE_SECONDS` says otherwise), so the test can kill the
    /// server exactly there (between a write's R2 objects and its D1
    /// commit, say) or change something meanwhile. Unset, as in every
    /// deployment, it does nothing.
    pub(crate) async fn failpoint(&self, point: &str) {
        if self.failpoint.as_deref() == Some(point) {
            worker::console_log!("failpoint: paused at {point}");
            worker::Delay::from(std::time::Duration::from_secs(self.failpoint_secs)).await;
            worker::console_log!("failpoint: resumed at {point}");
        }
    }

    /// The D1 and R2 round trips made through this handle so far.
    pub fn trips(&self) -> (Trips, Trips) {
        (self.d1_trips.get(), self.r2_trips.get())
    }

    /// Awaits one D1 round trip, counting it.
    pub(crate) async fn d1<T>(&self, call: impl Future<Output = T>) -> T {
        counted(&self.d1_trips, call).await
    }

    /// Awaits one R2 round trip, counting it.
    pub(crate) async fn r2<T>(&self, call: impl Future<Output = T>) -> T {
        counted(&self.r2_trips, call).await
    }

    /// Prepares `sql` with `args`.
    pub(crate) fn stmt(&self, sql: &str, args: &[JsValue]) -> StoreResult<D1PreparedStatement> {
        self.db.prepare(sql).bind(args).map_err(db_err)
    }

    /// Every row of a query.
    pub(crate) async fn rows<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: &[JsValue],
    ) -> StoreResult<Vec<T>> {
        self.d1(self.stmt(sql, args)?.all())
            .await
            .map_err(db_err)?
            .results()
            .map_err(db_err)
    }

    /// The first row of a query, if any.
    pub(crate) async fn row<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: &[JsValue],
    ) -> StoreResult<Option<T>> {
        self.d1(self.stmt(sql, args)?.first(None))
            .await
            .map_err(db_err)
    }

    /// Runs a statement.
    pub(crate) async fn exec(&self, sql: &str, args: &[JsValue]) -> StoreResult<()> {
        self.d1(self.stmt(sql, args)?.run()).await.map_err(db_err)?;
        Ok(())
    }

    /// Runs statements in one D1 round trip (atomically); their results.
    pub(crate) async fn batch_all(
        &self,
        statements: Vec<D1PreparedStatement>,
    ) -> worker::Result<Vec<worker::D1Result>> {
        self.d1(self.db.batch(statements)).await
    }

    /// Runs `N` statements in one D1 round trip; their results in order.
    pub(crate) async fn batch<const N: usize>(
        &self,
        statements: Vec<D1PreparedStatement>,
    ) -> StoreResult<[worker::D1Result; N]> {
        let results = self.batch_all(statements).await.map_err(db_err)?;
        <[_; N]>::try_from(results).map_err(|_| {
            StorageError::Corrupt("D1 batch returned the wrong number of results".into())
        })
    }

    /// Runs a statement; how many rows it changed.
    pub(crate) async fn count_changed(&self, sql: &str, args: &[JsValue]) -> StoreResult<usize> {
        let res = self.d1(self.stmt(sql, args)?.run()).await.map_err(db_err)?;
        Ok(res
            .meta()
            .map_err(db_err)?
            .and_then(|m| m.changes)
            .unwrap_or(0))
    }

    /// Runs a statement; whether it changed any row.
    pub(crate) async fn changed(&self, sql: &str, args: &[JsValue]) -> StoreResult<bool> {
        Ok(self.count_changed(sql, args).await? > 0)
    }
}

/// File rows as one JSON argument for `file_rows_from_json`:
/// `[[path, size, sha256, blob_id, exec, entry_offset, entry_len, object], …]`.
pub(crate) fn file_rows_json(files: &[ServedFile]) -> String {
    let rows: Vec<serde_json::Value> = files
        .iter()
        .filter_map(|f| {
            let FileSource::Entry { entry, object } = &f.source else {
                return None;
            };
            Some(serde_json::json!([
                f.path.as_str(),
                f.size,
                f.sha256,
                f.blob.to_hex(),
                f.exec as i64,
                entry.offset,
                entry.len,
                object
            ]))
        })
        .collect();
    serde_json::to_string(&rows).unwrap_or_default()
}

/// The columns `path, size, sha256, blob_id, exec, entry_offset, entry_len`
/// (and, `with_object`, the entries object's key) selected from the JSON
/// argument `?{n}` made by `file_rows_json`.
pub(crate) fn file_rows_from_json(n: u8, with_object: bool) -> String {
    let object = if with_object {
        ", json_extract(value, '$[7]')"
    } else {
        ""
    };
    format!(
        "json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), \
         json_extract(value, '$[4]'), json_extract(value, '$[5]'), json_extract(value, '$[6]'){object} FROM json_each(?{n})"
    )
}

/// A stored file row as a served file whose entry lies in R2 object `object`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn served_file(
    path: &str,
    size: i64,
    sha256: &str,
    blob_id: &str,
    exec: i64,
    offset: i64,
    len: i64,
    object: &str,
) -> StoreResult<ServedFile> {
    let corrupt = |what: &str| StorageError::Corrupt(format!("{what} of {path} in {object}"));
    Ok(ServedFile {
        path: RepoPath::parse(path).map_err(|_| corrupt("path"))?,
        size: size as u64,
        sha256: sha256.to_string(),
        blob: ObjectId::from_hex(blob_id.as_bytes()).map_err(|_| corrupt("blob id"))?,
        exec: exec != 0,
        source: FileSource::Entry {
            object: object.to_string(),
            entry: EntryRef {
                offset: offset as u64,
                len: len as u64,
            },
        },
    })
}

/// A stored `(marketplace, plugin)` pair as a key; a bad name is corrupt data.
pub(crate) fn key(slug: &str, plugin: &str) -> StoreResult<PluginKey> {
    PluginKey::parse(slug, plugin).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// A text argument.
pub(crate) fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

/// An integer argument (D1 numbers are JS numbers: exact to 2^53).
pub(crate) fn n(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

/// Whether a D1 error is a uniqueness violation.
pub(crate) fn is_unique_violation(e: &worker::Error) -> bool {
    e.to_string().contains("UNIQUE constraint failed")
}

/// Whether a D1 error is a NOT NULL violation of `column` (`table.column`).
pub(crate) fn is_not_null_violation(e: &worker::Error, column: &str) -> bool {
    e.to_string()
        .contains(&format!("NOT NULL constraint failed: {column}"))
}
