//! Web UI sessions in D1. Only the sha256 of a session id is stored; a
//! session is valid while unexpired and while the token it came from is not
//! revoked (the lookup joins `tokens`, so revoking a token ends its sessions
//! on the next request).

use serde::Deserialize;

use super::users::UserRow;
use super::{db_err, n, now, s, Store, StoreResult};
use crate::session::{RENEW_AFTER_SECONDS, SESSION_TTL_SECONDS};

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

impl Store {
    /// The owner of a live (unrevoked, unexpired) token with this hash,
    /// with the token id.
    pub async fn token_owner(&self, hash: &str) -> StoreResult<Option<TokenOwner>> {
        let sql = concat!(
            "SELECT t.id AS token_id, u.id, u.username, u.email, u.is_admin, u.created_at FROM tokens t \
             JOIN users u ON u.id = t.user_id WHERE t.token_sha256 = ?1 AND ",
            live_token!("t.")
        );
        self.row(sql, &[s(hash)]).await
    }

    /// Opens a session for the token's owner, ending the token's oldest
    /// sessions beyond `MAX_SESSIONS_PER_TOKEN` in the same batch.
    pub async fn create_session(&self, id_hash: &str, owner: &TokenOwner) -> StoreResult<()> {
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
    pub async fn session_user(&self, id_hash: &str) -> StoreResult<Option<UserRow>> {
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
    pub async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        self.exec("DELETE FROM sessions WHERE id_sha256 = ?1", &[s(id_hash)])
            .await
    }

    /// Drops expired sessions and those of revoked tokens; how many.
    pub async fn gc_sessions(&self) -> StoreResult<usize> {
        self.count_changed(
            "DELETE FROM sessions WHERE expires_at <= ?1 OR token_id IN (SELECT id FROM tokens WHERE revoked_at IS NOT NULL)",
            &[n(now())],
        )
        .await
    }
}
