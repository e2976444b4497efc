//! Mutual exclusion of R2 writers and the entries garbage collector (see
//! migration 0009): a writer registers, then waits while GC holds its lock;
//! GC takes its lock, then defers while any writer is registered.
//!
//! Invariant: an `entries/` or `uploads/` object is only deleted by a GC
//! run that saw no live writer after taking its lock, and a writer only
//! writes after seeing no live GC after registering; so an object a writer
//! puts (even one identical to an orphan) is never deleted under it.

use super::{n, now, s, StorageError, Store, StoreResult};

/// A writer older than this has died (an import ends far sooner).
pub const WRITER_EXPIRY_SECS: i64 = 3600;
/// A GC lock older than this was left by a GC that died.
pub const GC_LOCK_EXPIRY_SECS: i64 = 600;
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

impl Store {
    /// Registers a writer, waiting while GC runs; `GcRunning` if it does
    /// not finish in time.
    pub async fn begin_write(&self) -> StoreResult<Writer> {
        let mut raw = [0u8; 12];
        getrandom::getrandom(&mut raw)
            .map_err(|e| StorageError::Db(format!("no randomness for a writer id: {e}")))?;
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
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
                    &[n(now() - GC_LOCK_EXPIRY_SECS)],
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
    /// them) as a registered writer, released whatever the outcome.
    pub async fn while_writing<T, E: From<StorageError>>(
        &self,
        work: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let w = self.begin_write().await?;
        let out = work.await;
        self.end_write(&w).await;
        out
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

    /// Takes the GC lock; false if another GC holds it.
    pub(crate) async fn take_gc_lock(&self) -> StoreResult<bool> {
        self.changed(
            "UPDATE gc_lock SET started_at = ?1 WHERE id = 1 AND (started_at IS NULL OR started_at <= ?2)",
            &[n(now()), n(now() - GC_LOCK_EXPIRY_SECS)],
        )
        .await
    }

    /// Whether a live writer is registered.
    pub(crate) async fn writers_active(&self) -> StoreResult<bool> {
        let r: Option<Running> = self
            .row(
                "SELECT COUNT(*) AS running FROM writers WHERE started_at > ?1",
                &[n(now() - WRITER_EXPIRY_SECS)],
            )
            .await?;
        Ok(r.map(|r| r.running).unwrap_or(0) > 0)
    }

    /// Releases the GC lock.
    pub(crate) async fn release_gc_lock(&self) -> StoreResult<()> {
        self.exec("UPDATE gc_lock SET started_at = NULL WHERE id = 1", &[])
            .await
    }
}
