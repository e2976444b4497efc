//! `Storage`: this deployment's D1 database and R2 bucket behind one
//! handle, with the round trips made through it counted (for
//! `Server-Timing`), who the request authenticated as, and the crash
//! tests' failpoints. Every query in `storage` goes through its helpers.

use std::cell::Cell;
use std::future::Future;

use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{Bucket, D1Database, D1PreparedStatement, Env};

use super::local_dev::test_hook;
use super::timing::Trips;
use super::{db_err, r2_err, StorageError, StorageResult};

/// The D1 database and R2 bucket of this deployment, and the round trips
/// made through them so far (for `Server-Timing`).
pub struct Storage {
    pub(super) db: D1Database,
    pub(super) bucket: Bucket,
    d1_trips: Cell<Trips>,
    r2_trips: Cell<Trips>,
    /// The crash tests' pause point (`FAILPOINT_PAUSE`), if set, and how
    /// long it pauses (`FAILPOINT_PAUSE_SECONDS`, ten minutes by default);
    /// under local development only (`local_dev`).
    failpoint: Option<String>,
    failpoint_secs: u64,
    /// Who this request authenticated as (user id and name, or no id and
    /// the bootstrap token's name), for its log line and the audit log.
    actor: std::cell::RefCell<Option<(Option<i64>, String)>>,
    /// The hash of the token it authenticated with, to record its use.
    used_token: std::cell::RefCell<Option<String>>,
}

/// How many rows a statement's result says it changed (none when there is
/// no result or it says nothing).
pub(crate) fn rows_changed(result: Option<&worker::D1Result>) -> usize {
    result
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0)
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

impl Storage {
    /// Opens the `DB` and `BUCKET` bindings.
    pub fn from_env(env: &Env) -> StorageResult<Storage> {
        Ok(Storage {
            db: env.d1("DB").map_err(db_err)?,
            bucket: env.bucket("BUCKET").map_err(r2_err)?,
            d1_trips: Cell::new(Trips::default()),
            r2_trips: Cell::new(Trips::default()),
            failpoint: test_hook(env, "FAILPOINT_PAUSE"),
            failpoint_secs: test_hook(env, "FAILPOINT_PAUSE_SECONDS")
                .and_then(|v| v.trim().parse().ok())
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

    /// A crash test's pause: when `FAILPOINT_PAUSE` (one name, or several
    /// separated by commas) names `point`, logs
    /// `failpoint: paused at <point>` and waits (ten minutes unless
    /// `FAILPOINT_PAUSE_SECONDS` says otherwise), so the test can kill the
    /// server exactly there (between a write's R2 objects and its D1
    /// commit, say) or change something meanwhile. Unset, as in every
    /// deployment, it does nothing.
    pub(crate) async fn failpoint(&self, point: &str) {
        let named = self
            .failpoint
            .as_deref()
            .is_some_and(|points| points.split(',').any(|p| p.trim() == point));
        if named {
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
    pub(crate) fn stmt(&self, sql: &str, args: &[JsValue]) -> StorageResult<D1PreparedStatement> {
        self.db.prepare(sql).bind(args).map_err(db_err)
    }

    /// Every row of a query.
    pub(crate) async fn rows<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: &[JsValue],
    ) -> StorageResult<Vec<T>> {
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
    ) -> StorageResult<Option<T>> {
        self.d1(self.stmt(sql, args)?.first(None))
            .await
            .map_err(db_err)
    }

    /// Runs a statement.
    pub(crate) async fn exec(&self, sql: &str, args: &[JsValue]) -> StorageResult<()> {
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
    ) -> StorageResult<[worker::D1Result; N]> {
        let results = self.batch_all(statements).await.map_err(db_err)?;
        <[_; N]>::try_from(results).map_err(|_| {
            StorageError::Corrupt("D1 batch returned the wrong number of results".into())
        })
    }

    /// Runs a statement; how many rows it changed.
    pub(crate) async fn count_changed(&self, sql: &str, args: &[JsValue]) -> StorageResult<usize> {
        let res = self.d1(self.stmt(sql, args)?.run()).await.map_err(db_err)?;
        Ok(rows_changed(Some(&res)))
    }

    /// Runs a statement; whether it changed any row.
    pub(crate) async fn changed(&self, sql: &str, args: &[JsValue]) -> StorageResult<bool> {
        Ok(self.count_changed(sql, args).await? > 0)
    }
}
