-- Web UI sessions (issue 7). The cookie holds an opaque random id; only its
-- sha256 is stored. A session made from a PAT ends when that token is
-- revoked (the lookup joins `tokens`), when it expires, or on sign-out.

CREATE TABLE sessions (
  id_sha256   TEXT    PRIMARY KEY,
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_id    TEXT    NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_token ON sessions(token_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);
