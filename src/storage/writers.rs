//! Mutual exclusion of R2 writers and the entries garbage collector (see
//! migration 0009): a writer registers, then waits while GC holds its lock;
//! GC takes its lock, then defers while any writer is registered.
//!
//! Invariant: an `entries/` or `uploads/` object is only deleted by a GC
//! run that saw no live writer after taking its lock, and a writer only
//! writes after seeing no live GC after registering; so an object a writer
//! puts (even one identical to an orphan) is never deleted under it.
//!
//! Both are leases renewed while their holder works (`started_at` is the
//! last heartbeat, migration 0014): a holder that dies stops renewing, so
//! its row stops counting a short lease later, not an hour later; and one
//! that works longer than a lease keeps it.

use std::future::Future;

use futures_util::future::{select, Either};

use super::{n, now, random_id, s, Storage, StorageError, StorageResult};

/// A writer or GC lock not renewed for this long belongs to one that died.
pub const LEASE_SECS: i64 = 120;
/// How often a live holder renews its lease (well inside `LEASE_SECS`, so
/// a slow D1 round trip never lets it lapse).
const RENEW_EVERY_SECS: u64 = 30;
/// How long a writer waits for a running GC before giving up.
const WAIT_MS: u64 = 5000;
const POLL_MS: u64 = 250;

/// A registered writer; `Store::end_write` releases it.
pub struct Writer {
    id: String,
}

#[derive(serde::Deserialize)]
struct Running {
    running: i64,
}

impl Storage {
    /// Registers a writer, waiting while GC runs; `GcRunning` if it does
    /// not finish in time.
    pub async fn begin_write(&self) -> StorageResult<Writer> {
        let id = random_id()?;
        self.exec(
            "INSERT INTO writers (id, started_at) VALUES (?1, ?2)",
            &[s(&id), n(now())],
        )
        .await?;
        let writer = Writer { id };
        let mut waited = 0;
        loop {
            let r: Option<Running> = self
                .row(
                    "SELECT COUNT(*) AS running FROM gc_lock WHERE started_at > ?1",
                    &[n(now() - LEASE_SECS)],
                )
                .await?;
            if r.map(|r| r.running).unwrap_or(0) == 0 {
                return Ok(writer);
            }
            if waited >= WAIT_MS {
                self.end_write(&writer).await;
                return Err(StorageError::GcRunning);
            }
            worker::Delay::from(std::time::Duration::from_millis(POLL_MS)).await;
            waited += POLL_MS;
        }
    }

    /// Runs `work` (which writes R2 objects and then the D1 rows naming
    /// them) as a registered writer, renewed while it runs and released
    /// whatever the outcome.
    pub async fn while_writing<T, E: From<StorageError>>(
        &self,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let w = self.begin_write().await?;
        let out = self
            .renewing(work, || async {
                self.exec(
                    "UPDATE writers SET started_at = ?2 WHERE id = ?1",
                    &[s(&w.id), n(now())],
                )
                .await
            })
            .await;
        self.end_write(&w).await;
        out
    }

    /// Runs `work`, calling `renew` every `RENEW_EVERY_SECS` until it ends
    /// (a failed renewal is logged; the next one may succeed).
    pub(crate) async fn renewing<T, R>(
        &self,
        work: impl Future<Output = T>,
        renew: impl Fn() -> R,
    ) -> T
    where
        R: Future<Output = StorageResult<()>>,
    {
        let heartbeat = async {
            loop {
                worker::Delay::from(std::time::Duration::from_secs(RENEW_EVERY_SECS)).await;
                if let Err(e) = renew().await {
                    worker::console_error!("renewing a lease failed: {e}");
                }
            }
        };
        let (work, heartbeat) = (std::pin::pin!(work), std::pin::pin!(heartbeat));
        match select(work, heartbeat).await {
            Either::Left((out, _)) => out,
            Either::Right((never, _)) => never,
        }
    }

    /// Releases a writer (failures are logged: the row expires anyway).
    pub async fn end_write(&self, w: &Writer) {
        if let Err(e) = self
            .exec("DELETE FROM writers WHERE id = ?1", &[s(&w.id)])
            .await
        {
            worker::console_error!("releasing writer {} failed: {e}", w.id);
        }
    }

    /// Runs `work` holding the GC lock, renewed while it runs; `None`
    /// (and `work` not run) when another live GC holds it.
    pub(crate) async fn holding_gc_lock<T>(
        &self,
        work: impl Future<Output = StorageResult<T>>,
    ) -> StorageResult<Option<T>> {
        let holder = random_id()?;
        let taken = self
            .changed(
                "UPDATE gc_lock SET started_at = ?1, holder = ?3 WHERE id = 1 AND (started_at IS NULL OR started_at <= ?2)",
                &[n(now()), n(now() - LEASE_SECS), s(&holder)],
            )
            .await?;
        if !taken {
            return Ok(None);
        }
        let out = self
            .renewing(work, || async {
                self.exec(
                    "UPDATE gc_lock SET started_at = ?2 WHERE id = 1 AND holder = ?1",
                    &[s(&holder), n(now())],
                )
                .await
            })
            .await;
        // Only this GC's own lock is released (one that outlived its lease
        // leaves its successor's alone).
        let released = self
            .exec(
                "UPDATE gc_lock SET started_at = NULL, holder = NULL WHERE id = 1 AND holder = ?1",
                &[s(&holder)],
            )
            .await;
        let out = out?;
        released?;
        Ok(Some(out))
    }

    /// Whether a live writer is registered.
    pub(crate) async fn writers_active(&self) -> StorageResult<bool> {
        let r: Option<Running> = self
            .row(
                "SELECT COUNT(*) AS running FROM writers WHERE started_at > ?1",
                &[n(now() - LEASE_SECS)],
            )
            .await?;
        Ok(r.map(|r| r.running).unwrap_or(0) > 0)
    }
}
