-- marketplace-edge catalog (issue 3). Times are Unix seconds.
-- Grants and opt-outs name plugins by (marketplace, plugin) without a foreign
-- key to `plugins`, so re-importing a marketplace (which replaces its plugin
-- rows atomically) keeps them.

CREATE TABLE users (
  id          INTEGER PRIMARY KEY,
  username    TEXT    NOT NULL UNIQUE,
  email       TEXT    NOT NULL,
  is_admin    INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL
);

-- A token's secret is never stored: only its sha256 (hex).
CREATE TABLE tokens (
  id            TEXT    PRIMARY KEY,
  user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name          TEXT    NOT NULL,
  token_sha256  TEXT    NOT NULL UNIQUE,
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER,
  revoked_at    INTEGER
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE groups (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL
);

CREATE TABLE group_members (
  group_id  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members(user_id);

CREATE TABLE marketplaces (
  slug         TEXT    PRIMARY KEY,
  name         TEXT    NOT NULL,
  imported_at  INTEGER NOT NULL
);

CREATE TABLE plugins (
  marketplace     TEXT    NOT NULL REFERENCES marketplaces(slug) ON DELETE CASCADE,
  name            TEXT    NOT NULL,
  position        INTEGER NOT NULL,
  manifest_name   TEXT    NOT NULL,
  version         TEXT,
  entry_json      TEXT    NOT NULL,
  external        INTEGER NOT NULL,
  entries_key     TEXT,
  admin_disabled  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (marketplace, name)
);

CREATE TABLE plugin_files (
  marketplace   TEXT    NOT NULL,
  plugin        TEXT    NOT NULL,
  path          TEXT    NOT NULL,
  size          INTEGER NOT NULL,
  sha256        TEXT    NOT NULL,
  blob_id       TEXT    NOT NULL,
  exec          INTEGER NOT NULL,
  entry_offset  INTEGER NOT NULL,
  entry_len     INTEGER NOT NULL,
  PRIMARY KEY (marketplace, plugin, path),
  FOREIGN KEY (marketplace, plugin) REFERENCES plugins(marketplace, name) ON DELETE CASCADE
);

CREATE TABLE grants (
  group_id     INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  marketplace  TEXT    NOT NULL,
  plugin       TEXT    NOT NULL,
  requirement  TEXT    NOT NULL CHECK (requirement IN ('available', 'required')),
  PRIMARY KEY (group_id, marketplace, plugin)
);

CREATE TABLE optouts (
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  marketplace  TEXT    NOT NULL,
  plugin       TEXT    NOT NULL,
  PRIMARY KEY (user_id, marketplace, plugin)
);

-- One row per view ever served: recognises `have`s and drives pack GC.
CREATE TABLE snapshots (
  etag            TEXT    PRIMARY KEY,
  commit_id       TEXT    NOT NULL,
  tree_id         TEXT    NOT NULL,
  pack_key        TEXT,
  pack_size       INTEGER,
  created_at      INTEGER NOT NULL,
  last_served_at  INTEGER NOT NULL
);
