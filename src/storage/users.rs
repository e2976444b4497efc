//! Users, tokens, groups and memberships in D1.

use serde::{Deserialize, Serialize};

use super::{db_err, is_unique_violation, n, now, s, Storage, StorageError, StorageResult};

/// A user row.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub is_admin: i64,
    pub created_at: i64,
    /// When an admin disabled the user, if they did.
    #[serde(default)]
    pub disabled_at: Option<i64>,
}

/// A token row, without its hash: what listings show.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    /// The secret's first characters (`mpe_` + 6 hex), if recorded.
    pub prefix: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A group row.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

pub(crate) const USER_COLS: &str = "id, username, email, is_admin, created_at, disabled_at";

/// Live (unrevoked, unexpired) tokens one user may hold: far more than
/// anyone needs, and a bound on what a script creating tokens in a loop
/// can leave behind.
pub const MAX_LIVE_TOKENS: i64 = 100;

impl Storage {
    /// Creates a user; `Conflict` if the username is taken.
    pub async fn create_user(
        &self,
        username: &str,
        email: &str,
        admin: bool,
    ) -> StorageResult<UserRow> {
        let sql = format!(
            "INSERT INTO users (username, email, is_admin, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING {USER_COLS}"
        );
        let stmt = self.stmt(&sql, &[s(username), s(email), n(admin as i64), n(now())])?;
        inserted(stmt.first::<UserRow>(None).await, || {
            format!("user `{username}`")
        })
    }

    /// A user by name.
    pub async fn user_by_name(&self, username: &str) -> StorageResult<Option<UserRow>> {
        self.row(
            &format!("SELECT {USER_COLS} FROM users WHERE username = ?1"),
            &[s(username)],
        )
        .await
    }

    /// The enabled users with this email (case-insensitive).
    pub async fn users_by_email(&self, email: &str) -> StorageResult<Vec<UserRow>> {
        self.rows(
            &format!(
                "SELECT {USER_COLS} FROM users WHERE lower(email) = lower(?1) AND disabled_at IS NULL ORDER BY id LIMIT 2"
            ),
            &[s(email)],
        )
        .await
    }

    /// Disables (or enables again) a user (the caller has checked they
    /// exist).
    pub async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> StorageResult<()> {
        self.exec(
            "UPDATE users SET disabled_at = CASE WHEN ?2 THEN COALESCE(disabled_at, ?3) ELSE NULL END WHERE id = ?1",
            &[n(user_id), n(disabled as i64), n(now())],
        )
        .await
    }

    /// Deletes a user with their tokens, sessions, memberships, opt-outs,
    /// installs and Store entities (by cascade).
    pub async fn delete_user(&self, user_id: i64) -> StorageResult<()> {
        self.exec("DELETE FROM users WHERE id = ?1", &[n(user_id)])
            .await
    }

    /// A page of users by name: at most `limit`, after `after` if given.
    pub async fn list_users(&self, after: Option<&str>, limit: i64) -> StorageResult<Vec<UserRow>> {
        self.rows(
            &format!(
                "SELECT {USER_COLS} FROM users WHERE (?1 IS NULL OR username > ?1) ORDER BY username LIMIT ?2"
            ),
            &[after.map(s).unwrap_or(wasm_bindgen::JsValue::NULL), n(limit)],
        )
        .await
    }

    /// Stores a token's hash for `user_id`, with its non-secret prefix and
    /// expiry (seconds since the epoch, if any), unless the user already
    /// holds `MAX_LIVE_TOKENS` live tokens; whether it was stored.
    pub async fn create_token(
        &self,
        user_id: i64,
        id: &str,
        name: &str,
        hash: &str,
        prefix: &str,
        expires_at: Option<i64>,
    ) -> StorageResult<bool> {
        // The count and the insert are one statement, so two requests at
        // once cannot both take the last place.
        let sql = "INSERT INTO tokens (id, user_id, name, token_sha256, created_at, prefix, expires_at) \
                   SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE (SELECT count(*) FROM tokens WHERE user_id = ?2 \
                   AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?5)) < ?8";
        let expires = expires_at.map(n).unwrap_or(wasm_bindgen::JsValue::NULL);
        self.changed(
            sql,
            &[
                s(id),
                n(user_id),
                s(name),
                s(hash),
                n(now()),
                s(prefix),
                expires,
                n(MAX_LIVE_TOKENS),
            ],
        )
        .await
    }

    /// Records that the token with this hash was just used (at most once a
    /// minute: the write is skipped while the record is fresh).
    pub async fn touch_token(&self, hash: &str) -> StorageResult<()> {
        self.exec(
            "UPDATE tokens SET last_used_at = ?2 WHERE token_sha256 = ?1 AND (last_used_at IS NULL OR last_used_at < ?2 - 60)",
            &[s(hash), n(now())],
        )
        .await
    }

    /// Revokes a token (of `user_id`, when given); whether one was revoked.
    pub async fn revoke_token(&self, id: &str, user_id: Option<i64>) -> StorageResult<bool> {
        let sql = "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL AND (?3 IS NULL OR user_id = ?3)";
        let owner = user_id.map(n).unwrap_or(wasm_bindgen::JsValue::NULL);
        self.changed(sql, &[s(id), n(now()), owner]).await
    }

    /// A user's tokens, newest first.
    pub async fn list_tokens(&self, user_id: i64) -> StorageResult<Vec<TokenRow>> {
        let sql = "SELECT id, name, prefix, created_at, last_used_at, expires_at, revoked_at FROM tokens WHERE user_id = ?1 ORDER BY created_at DESC, id";
        self.rows(sql, &[n(user_id)]).await
    }

    /// Creates a group; `Conflict` if the name is taken.
    pub async fn create_group(&self, name: &str) -> StorageResult<GroupRow> {
        let sql =
            "INSERT INTO groups (name, created_at) VALUES (?1, ?2) RETURNING id, name, created_at";
        let stmt = self.stmt(sql, &[s(name), n(now())])?;
        inserted(stmt.first::<GroupRow>(None).await, || {
            format!("group `{name}`")
        })
    }

    /// A group by name.
    pub async fn group_by_name(&self, name: &str) -> StorageResult<Option<GroupRow>> {
        self.row(
            "SELECT id, name, created_at FROM groups WHERE name = ?1",
            &[s(name)],
        )
        .await
    }

    /// All groups, by name.
    pub async fn list_groups(&self) -> StorageResult<Vec<GroupRow>> {
        self.rows("SELECT id, name, created_at FROM groups ORDER BY name", &[])
            .await
    }

    /// Adds a member (idempotent).
    pub async fn add_member(&self, group_id: i64, user_id: i64) -> StorageResult<()> {
        self.exec(
            "INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?1, ?2)",
            &[n(group_id), n(user_id)],
        )
        .await
    }

    /// Removes a member (idempotent).
    pub async fn remove_member(&self, group_id: i64, user_id: i64) -> StorageResult<()> {
        self.exec(
            "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
            &[n(group_id), n(user_id)],
        )
        .await
    }
}

/// The row an `INSERT … RETURNING` gave back, or `Conflict` on a taken name.
fn inserted<T>(res: worker::Result<Option<T>>, what: impl FnOnce() -> String) -> StorageResult<T> {
    match res {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(StorageError::Corrupt("insert returned no row".into())),
        Err(e) if is_unique_violation(&e) => Err(StorageError::Conflict(what())),
        Err(e) => Err(db_err(e)),
    }
}
