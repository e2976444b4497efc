-- Served names (issue 19): the name each curated plugin has in the served
-- marketplace.json, decided once, catalog-wide, when the plugin is first
-- imported or synced, and never again by what else a view holds.
--
-- One row per name a plugin holds: its current name (retired_at NULL) and
-- every name an admin renamed it from (the served marketplace.json maps
-- those to the current one in `renames`, so Claude Code migrates an
-- install made under an old name). A name is held by one plugin at most,
-- current or past, so no other plugin can capture an old name; a plugin
-- has at most one current name. Rows outlive a plugin's absence from a
-- re-import (like its grants) and go when its marketplace is deleted.
CREATE TABLE served_names (
  name         TEXT    PRIMARY KEY,
  marketplace  TEXT    NOT NULL,
  plugin       TEXT    NOT NULL,
  retired_at   INTEGER
);
CREATE UNIQUE INDEX served_names_current ON served_names(marketplace, plugin) WHERE retired_at IS NULL;
CREATE INDEX served_names_plugin ON served_names(marketplace, plugin);

-- A view is made of these names, so a change bumps the catalog generation
-- like every other view input (migration 0007).
CREATE TRIGGER served_names_insert_bumps AFTER INSERT ON served_names BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER served_names_update_bumps AFTER UPDATE ON served_names BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER served_names_delete_bumps AFTER DELETE ON served_names BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;

-- Plugins stored before this migration: in import order, each keeps the
-- name it was served under when it stood alone (its manifest name) if no
-- earlier plugin has it, else `<name>-<slug>`. A name still taken after
-- that is left unassigned here; the next import of its marketplace gives
-- it the next free one, and until then a view serves it under its
-- directory name (`<slug>-<plugin>`).
INSERT INTO served_names (name, marketplace, plugin)
SELECT p.manifest_name, p.marketplace, p.name FROM plugins p
 WHERE NOT EXISTS (SELECT 1 FROM plugins q WHERE q.manifest_name = p.manifest_name AND q.rowid < p.rowid)
 ORDER BY p.rowid;
INSERT OR IGNORE INTO served_names (name, marketplace, plugin)
SELECT p.manifest_name || '-' || p.marketplace, p.marketplace, p.name FROM plugins p
 WHERE NOT EXISTS (SELECT 1 FROM served_names n WHERE n.marketplace = p.marketplace AND n.plugin = p.name)
 ORDER BY p.rowid;

-- A Store plugin's content version (`<plugin.json version>+<12 hex>`, see
-- `catalog::version`), computed at upload from the uploaded files; its
-- served plugin.json carries it when it has a version, and the served
-- marketplace entry always does. NULL for skills and agents (the bundle
-- has its own) and for plugins uploaded before this migration (served as
-- `0.0.0+<12 hex>` until their next version).
ALTER TABLE store_entities ADD COLUMN served_version TEXT;
