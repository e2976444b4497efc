-- Clones that race a change (issue 10). A clone is two requests, the refs
-- and then the fetch of the advertised commit; when the member's view
-- changes in between, the wanted commit is no longer their current one.
-- Each head-answered ref advertisement is recorded per user, and a fetch
-- may want a commit advertised to the same user within a short window
-- (ADVERTISEMENT_WINDOW_SECONDS, 60 by default). It gets that snapshot:
-- its cached pack, or a rebuild from `view_definitions` (which plugins and
-- Store entities made the view with that ETag), checked against the
-- advertised ids before anything is sent.
CREATE TABLE advertisements (
  user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  commit_id      TEXT    NOT NULL,
  etag           TEXT    NOT NULL,
  tree_id        TEXT    NOT NULL,
  advertised_at  INTEGER NOT NULL,
  PRIMARY KEY (user_id, commit_id)
);
CREATE INDEX advertisements_at ON advertisements(advertised_at);

-- What a view is made of, stored when its head is built from plugin rows:
-- {"plugins": [["<slug>/<plugin>", <files digest>], …],
--  "store": [[<entity id>, <files digest>], …]}.
CREATE TABLE view_definitions (
  etag        TEXT    PRIMARY KEY,
  definition  TEXT    NOT NULL,
  created_at  INTEGER NOT NULL
);

-- A write that replaces or deletes a plugin's or Store entity's files first
-- copies the old rows here, as JSON (one row per plugin or entity), so a
-- view advertised within the window can still be rebuilt from them. Kept
-- for the window, and their `entries/` objects with them (src/storage/advertised.rs).
CREATE TABLE retired_plugins (
  marketplace   TEXT    NOT NULL,
  name          TEXT    NOT NULL,
  files_digest  TEXT    NOT NULL,
  plugin_json   TEXT    NOT NULL,
  files_json    TEXT    NOT NULL,
  retired_at    INTEGER NOT NULL,
  PRIMARY KEY (marketplace, name, files_digest)
);
CREATE INDEX retired_plugins_at ON retired_plugins(retired_at);

CREATE TABLE retired_entities (
  entity_id     INTEGER NOT NULL,
  files_digest  TEXT    NOT NULL,
  entity_json   TEXT    NOT NULL,
  files_json    TEXT    NOT NULL,
  retired_at    INTEGER NOT NULL,
  PRIMARY KEY (entity_id, files_digest)
);
CREATE INDEX retired_entities_at ON retired_entities(retired_at);

-- Memoised heads from before this migration have no definition: drop them
-- so that each is rebuilt, with its definition, on the next request.
DELETE FROM view_heads;
