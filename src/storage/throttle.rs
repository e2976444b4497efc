//! Counting failed authentication per client (migration 0013), one
//! fixed one-minute window at a time.

use serde::Deserialize;

use super::{n, now, s, Store, StoreResult};

/// The window failures are counted in, in seconds.
pub const FAILURE_WINDOW_SECS: i64 = 60;

impl Store {
    /// Counts one failed authentication of `client`; when that makes more
    /// than `limit` in the current window, how many seconds until it ends.
    pub async fn count_auth_failure(&self, client: &str, limit: i64) -> StoreResult<Option<i64>> {
        #[derive(Deserialize)]
        struct Count {
            failures: i64,
            window_start: i64,
        }
        let t = now();
        let row: Option<Count> = self
            .row(
                "INSERT INTO auth_failures (client, window_start, failures) VALUES (?1, ?2, 1) \
                 ON CONFLICT(client) DO UPDATE SET \
                 failures = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE failures + 1 END, \
                 window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2 ELSE window_start END \
                 RETURNING failures, window_start",
                &[s(client), n(t), n(FAILURE_WINDOW_SECS)],
            )
            .await?;
        Ok(row
            .filter(|c| c.failures > limit)
            .map(|c| (c.window_start + FAILURE_WINDOW_SECS - t).max(1)))
    }

    /// Forgets windows that ended over an hour ago; how many.
    pub async fn gc_auth_failures(&self) -> StoreResult<usize> {
        self.count_changed(
            "DELETE FROM auth_failures WHERE window_start < ?1",
            &[n(now() - 3600)],
        )
        .await
    }
}
