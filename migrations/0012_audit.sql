-- The audit log (issue 11): every admin change and every Store publish,
-- edit, delete, install and opt-out, and token changes (src/audit.rs
-- names them), with who, what, on what, when and the request id. It holds
-- no request body, header or query, so never a token or secret.
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  request_id  TEXT    NOT NULL,
  actor       TEXT    NOT NULL,
  actor_id    INTEGER,
  action      TEXT    NOT NULL,
  target      TEXT    NOT NULL,
  status      INTEGER NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log(actor, id);
CREATE INDEX audit_log_action ON audit_log(action, id);

-- Moderation (issue 11): an admin can unpublish a Store entity (it leaves
-- every stack on the next request, and the Store) and restore it.
ALTER TABLE store_entities ADD COLUMN unpublished_at INTEGER;
