//! Authentication's storage: web UI sessions and failed-authentication
//! counts in D1 (tokens live with their users, in `users.rs`).
//!
//! Sessions: only the sha256 of a session id is stored; a session is valid
//! while unexpired and while the token it came from is not revoked (the
//! lookup joins `tokens`, so revoking a token ends its sessions on the next
//! request). Failures are counted per client (migration 0013), one fixed
//! one-minute window at a time.

use serde::Deserialize;

use super::users::UserRow;
use super::{db_err, n, now, s, Storage, StorageResult};
use crate::catalog::auth::session::{RENEW_AFTER_SECONDS, SESSION_TTL_SECONDS};

/// A user found by token hash, with the token's id.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenOwner {
    pub token_id: String,
    pub id: i64,
    pub username: String,
    pub email: String,
    pub is_admin: i64,
    pub created_at: i64,
}

impl TokenOwner {
    /// The user row.
    pub fn user(&self) -> UserRow {
        UserRow {
            id: self.id,
            username: self.username.clone(),
            email: self.email.clone(),
            is_admin: self.is_admin,
            created_at: self.created_at,
            // A live token's owner is enabled (see `live_token!`).
            disabled_at: None,
        }
    }
}

#[derive(Deserialize)]
struct SessionUser {
    id: i64,
    username: String,
    email: String,
    is_admin: i64,
    created_at: i64,
    expires_at: i64,
}

/// Sessions one token may have open at once: a browser per device and
/// then some. Signing in once more ends the oldest, so a script signing in
/// in a loop leaves at most this many rows behind.
pub const MAX_SESSIONS_PER_TOKEN: i64 = 20;

impl Storage {
    /// The owner of a live (unrevoked, unexpired) token with this hash,
    /// with the token id.
    pub async fn token_owner(&self, hash: &str) -> StorageResult<Option<TokenOwner>> {
        let sql = concat!(
            "SELECT t.id AS token_id, u.id, u.username, u.email, u.is_admin, u.created_at FROM tokens t \
             JOIN users u ON u.id = t.user_id WHERE t.token_sha256 = ?1 AND ",
            live_token!("t.")
        );
        self.row(sql, &[s(hash)]).await
    }

    /// Opens a session for the token's owner, ending the token's oldest
    /// sessions beyond `MAX_SESSIONS_PER_TOKEN` in the same batch.
    pub async fn create_session(&self, id_hash: &str, owner: &TokenOwner) -> StorageResult<()> {
        let t = now();
        self.batch_all(vec![
            self.stmt(
                "INSERT INTO sessions (id_sha256, user_id, token_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                &[s(id_hash), n(owner.id), s(&owner.token_id), n(t), n(t + SESSION_TTL_SECONDS)],
            )?,
            // Newest by insertion (rowid): `created_at` has ties within a second.
            self.stmt(
                "DELETE FROM sessions WHERE token_id = ?1 AND rowid NOT IN \
                 (SELECT rowid FROM sessions WHERE token_id = ?1 ORDER BY rowid DESC LIMIT ?2)",
                &[s(&owner.token_id), n(MAX_SESSIONS_PER_TOKEN)],
            )?,
        ])
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// The user of a live session, renewing it when enough of its life has
    /// passed.
    pub async fn session_user(&self, id_hash: &str) -> StorageResult<Option<UserRow>> {
        let t = now();
        let sql = concat!(
            "SELECT u.id, u.username, u.email, u.is_admin, u.created_at, se.expires_at FROM sessions se \
             JOIN users u ON u.id = se.user_id JOIN tokens tk ON tk.id = se.token_id \
             WHERE se.id_sha256 = ?1 AND se.expires_at > ?2 AND ",
            live_token!("tk.")
        );
        let Some(row) = self.row::<SessionUser>(sql, &[s(id_hash), n(t)]).await? else {
            return Ok(None);
        };
        if row.expires_at - t < SESSION_TTL_SECONDS - RENEW_AFTER_SECONDS {
            self.exec(
                "UPDATE sessions SET expires_at = ?2 WHERE id_sha256 = ?1",
                &[s(id_hash), n(t + SESSION_TTL_SECONDS)],
            )
            .await?;
        }
        Ok(Some(UserRow {
            id: row.id,
            username: row.username,
            email: row.email,
            is_admin: row.is_admin,
            created_at: row.created_at,
            disabled_at: None,
        }))
    }

    /// Ends a session (sign-out); idempotent.
    pub async fn delete_session(&self, id_hash: &str) -> StorageResult<()> {
        self.exec("DELETE FROM sessions WHERE id_sha256 = ?1", &[s(id_hash)])
            .await
    }
}

/// The window failures are counted in, in seconds.
pub const FAILURE_WINDOW_SECS: i64 = 60;

impl Storage {
    /// Counts one failed authentication of `client`; when that makes more
    /// than `limit` in the current window, how many seconds until it ends.
    pub async fn count_auth_failure(&self, client: &str, limit: i64) -> StorageResult<Option<i64>> {
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
}
