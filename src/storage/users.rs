//! Users, tokens, groups and memberships in D1.

use serde::{Deserialize, Serialize};

use super::{db_err, is_unique_violation, n, now, s, StorageError, Store, StoreResult};

/// A user row.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub is_admin: i64,
    pub created_at: i64,
}

/// A token row, without its hash.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A group row.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

const USER_COLS: &str = "id, username, email, is_admin, created_at";

impl Store {
    /// Creates a user; `Conflict` if the username is taken.
    pub async fn create_user(
        &self,
        username: &str,
        email: &str,
        admin: bool,
    ) -> StoreResult<UserRow> {
        let sql = format!("INSERT INTO users (username, email, is_admin, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING {USER_COLS}");
        let stmt = self.stmt(&sql, &[s(username), s(email), n(admin as i64), n(now())])?;
        match stmt.first::<UserRow>(None).await {
            Ok(Some(u)) => Ok(u),
            Ok(None) => Err(StorageError::Corrupt("insert returned no row".into())),
            Err(e) if is_unique_violation(&e) => {
                Err(StorageError::Conflict(format!("user `{username}`")))
            }
            Err(e) => Err(db_err(e)),
        }
    }

    /// A user by name.
    pub async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE username = ?1");
        self.stmt(&sql, &[s(username)])?
            .first(None)
            .await
            .map_err(db_err)
    }

    /// All users, by name.
    pub async fn list_users(&self) -> StoreResult<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users ORDER BY username");
        self.stmt(&sql, &[])?
            .all()
            .await
            .map_err(db_err)?
            .results()
            .map_err(db_err)
    }

    /// Stores a token's hash for `user_id`.
    pub async fn create_token(
        &self,
        user_id: i64,
        id: &str,
        name: &str,
        hash: &str,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO tokens (id, user_id, name, token_sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
        self.stmt(sql, &[s(id), n(user_id), s(name), s(hash), n(now())])?
            .run()
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// The user owning an unrevoked token with this hash.
    pub async fn user_by_token_hash(&self, hash: &str) -> StoreResult<Option<UserRow>> {
        let sql = "SELECT u.id, u.username, u.email, u.is_admin, u.created_at FROM tokens t JOIN users u ON u.id = t.user_id \
                   WHERE t.token_sha256 = ?1 AND t.revoked_at IS NULL";
        self.stmt(sql, &[s(hash)])?
            .first(None)
            .await
            .map_err(db_err)
    }

    /// Revokes a token (of `user_id`, when given); whether one was revoked.
    pub async fn revoke_token(&self, id: &str, user_id: Option<i64>) -> StoreResult<bool> {
        let (sql, args) = match user_id {
            Some(u) => ("UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL AND user_id = ?3", vec![s(id), n(now()), n(u)]),
            None => ("UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", vec![s(id), n(now())]),
        };
        let res = self.stmt(sql, &args)?.run().await.map_err(db_err)?;
        Ok(res
            .meta()
            .map_err(db_err)?
            .and_then(|m| m.changes)
            .unwrap_or(0)
            > 0)
    }

    /// A user's tokens, newest first.
    pub async fn list_tokens(&self, user_id: i64) -> StoreResult<Vec<TokenRow>> {
        let sql = "SELECT id, name, created_at, last_used_at, revoked_at FROM tokens WHERE user_id = ?1 ORDER BY created_at DESC, id";
        self.stmt(sql, &[n(user_id)])?
            .all()
            .await
            .map_err(db_err)?
            .results()
            .map_err(db_err)
    }

    /// Creates a group; `Conflict` if the name is taken.
    pub async fn create_group(&self, name: &str) -> StoreResult<GroupRow> {
        let stmt = self.stmt(
            "INSERT INTO groups (name, created_at) VALUES (?1, ?2) RETURNING id, name, created_at",
            &[s(name), n(now())],
        )?;
        match stmt.first::<GroupRow>(None).await {
            Ok(Some(g)) => Ok(g),
            Ok(None) => Err(StorageError::Corrupt("insert returned no row".into())),
            Err(e) if is_unique_violation(&e) => {
                Err(StorageError::Conflict(format!("group `{name}`")))
            }
            Err(e) => Err(db_err(e)),
        }
    }

    /// A group by name.
    pub async fn group_by_name(&self, name: &str) -> StoreResult<Option<GroupRow>> {
        self.stmt(
            "SELECT id, name, created_at FROM groups WHERE name = ?1",
            &[s(name)],
        )?
        .first(None)
        .await
        .map_err(db_err)
    }

    /// All groups, by name.
    pub async fn list_groups(&self) -> StoreResult<Vec<GroupRow>> {
        self.stmt("SELECT id, name, created_at FROM groups ORDER BY name", &[])?
            .all()
            .await
            .map_err(db_err)?
            .results()
            .map_err(db_err)
    }

    /// Adds a member (idempotent).
    pub async fn add_member(&self, group_id: i64, user_id: i64) -> StoreResult<()> {
        self.stmt(
            "INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?1, ?2)",
            &[n(group_id), n(user_id)],
        )?
        .run()
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Removes a member (idempotent).
    pub async fn remove_member(&self, group_id: i64, user_id: i64) -> StoreResult<()> {
        self.stmt(
            "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
            &[n(group_id), n(user_id)],
        )?
        .run()
        .await
        .map_err(db_err)?;
        Ok(())
    }
}
