-- A memo of each user's view head (issue 8: `ls-refs` flat in the number
-- of plugins). Every write to a table a view is made of bumps one catalog
-- generation, by trigger, so no code path can forget to; a memo row is
-- used only while its generation is the current one (and its key, the
-- ETag format and marketplace name, matches), and a git request then
-- reads that one row instead of the plugin rows. Tokens, sessions and
-- snapshots are not view inputs: a revoked token fails its own check.
CREATE TABLE catalog_generation (
  id  INTEGER PRIMARY KEY CHECK (id = 1),
  n   INTEGER NOT NULL
);
INSERT INTO catalog_generation (id, n) VALUES (1, 0);

CREATE TABLE view_heads (
  user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  generation  INTEGER NOT NULL,
  key         TEXT    NOT NULL,
  etag        TEXT    NOT NULL,
  commit_id   TEXT    NOT NULL,
  tree_id     TEXT    NOT NULL
);
CREATE TRIGGER users_insert_bumps AFTER INSERT ON users BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER users_update_bumps AFTER UPDATE ON users BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER users_delete_bumps AFTER DELETE ON users BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER groups_insert_bumps AFTER INSERT ON groups BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER groups_update_bumps AFTER UPDATE ON groups BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER groups_delete_bumps AFTER DELETE ON groups BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER group_members_insert_bumps AFTER INSERT ON group_members BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER group_members_update_bumps AFTER UPDATE ON group_members BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER group_members_delete_bumps AFTER DELETE ON group_members BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER marketplaces_insert_bumps AFTER INSERT ON marketplaces BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER marketplaces_update_bumps AFTER UPDATE ON marketplaces BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER marketplaces_delete_bumps AFTER DELETE ON marketplaces BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER plugins_insert_bumps AFTER INSERT ON plugins BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER plugins_update_bumps AFTER UPDATE ON plugins BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER plugins_delete_bumps AFTER DELETE ON plugins BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER plugin_files_insert_bumps AFTER INSERT ON plugin_files BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER plugin_files_update_bumps AFTER UPDATE ON plugin_files BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER plugin_files_delete_bumps AFTER DELETE ON plugin_files BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER grants_insert_bumps AFTER INSERT ON grants BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER grants_update_bumps AFTER UPDATE ON grants BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER grants_delete_bumps AFTER DELETE ON grants BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER optouts_insert_bumps AFTER INSERT ON optouts BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER optouts_update_bumps AFTER UPDATE ON optouts BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER optouts_delete_bumps AFTER DELETE ON optouts BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER store_entities_insert_bumps AFTER INSERT ON store_entities BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER store_entities_update_bumps AFTER UPDATE ON store_entities BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER store_entities_delete_bumps AFTER DELETE ON store_entities BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER store_files_insert_bumps AFTER INSERT ON store_files BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER store_files_update_bumps AFTER UPDATE ON store_files BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER store_files_delete_bumps AFTER DELETE ON store_files BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER store_installs_insert_bumps AFTER INSERT ON store_installs BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER store_installs_update_bumps AFTER UPDATE ON store_installs BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER store_installs_delete_bumps AFTER DELETE ON store_installs BEGIN UPDATE catalog_generation SET n = n + 1 WHERE id = 1; END;
