-- Community Store (issue 4). Files are stored like curated plugins: one
-- content-addressed `entries/…` object per version plus per-file rows.

CREATE TABLE store_entities (
  id           INTEGER PRIMARY KEY,
  owner_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  type         TEXT    NOT NULL CHECK (type IN ('skill', 'agent', 'plugin')),
  name         TEXT    NOT NULL,
  served_name  TEXT    NOT NULL UNIQUE,
  title        TEXT    NOT NULL,
  tagline      TEXT    NOT NULL,
  description  TEXT    NOT NULL,
  category     TEXT    NOT NULL,
  photo_url    TEXT,
  video_url    TEXT,
  version      INTEGER NOT NULL,
  entries_key  TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX store_entities_owner ON store_entities(owner_id);

CREATE TABLE store_files (
  entity_id     INTEGER NOT NULL REFERENCES store_entities(id) ON DELETE CASCADE,
  path          TEXT    NOT NULL,
  size          INTEGER NOT NULL,
  sha256        TEXT    NOT NULL,
  blob_id       TEXT    NOT NULL,
  exec          INTEGER NOT NULL,
  entry_offset  INTEGER NOT NULL,
  entry_len     INTEGER NOT NULL,
  PRIMARY KEY (entity_id, path)
);

CREATE TABLE store_docs (
  entity_id  INTEGER NOT NULL REFERENCES store_entities(id) ON DELETE CASCADE,
  name       TEXT    NOT NULL,
  content    BLOB    NOT NULL,
  PRIMARY KEY (entity_id, name)
);

CREATE TABLE store_installs (
  user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  entity_id     INTEGER NOT NULL REFERENCES store_entities(id) ON DELETE CASCADE,
  installed_at  INTEGER NOT NULL,
  PRIMARY KEY (user_id, entity_id)
);
CREATE INDEX store_installs_entity ON store_installs(entity_id);
