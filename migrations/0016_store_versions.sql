-- A Store an organisation can trust (issue 20), first part: what each
-- version of an entry can do (the scan, `catalog::scan`) and the versions
-- themselves, so one can be restored.
--
-- `store_entities` and `store_files` stay what is served: the current
-- version. `store_versions` keeps every version's own rows as JSON (like a
-- retired row, migration 0010) with its entries object, so a restore
-- makes an earlier version current again without the upload. GC keeps the
-- entries objects a version row names.
ALTER TABLE store_entities ADD COLUMN scan_json TEXT;

CREATE TABLE store_versions (
  entity_id       INTEGER NOT NULL REFERENCES store_entities(id) ON DELETE CASCADE,
  version         INTEGER NOT NULL,
  status          TEXT    NOT NULL DEFAULT 'approved' CHECK (status IN ('approved', 'pending', 'rejected')),
  entries_key     TEXT    NOT NULL,
  root_id         TEXT,
  root_mode       TEXT,
  files_digest    TEXT,
  served_version  TEXT,
  -- The version's file rows: `[[path, size, sha256, blob_id, exec,
  -- entry_offset, entry_len, entries_key], …]` (`storage::sql::file_rows_json`).
  files_json      TEXT    NOT NULL,
  -- `{capabilities, findings}`; NULL for versions stored before the scan.
  scan_json       TEXT,
  created_at      INTEGER NOT NULL,
  -- Who restored it from which version, when it is a restore.
  restored_from   INTEGER,
  PRIMARY KEY (entity_id, version)
);

-- Entries stored before this migration: their current version, as it is.
INSERT INTO store_versions (entity_id, version, status, entries_key, root_id, root_mode, files_digest, served_version, files_json, created_at)
SELECT e.id, e.version, 'approved', e.entries_key, e.root_id, e.root_mode, e.files_digest, e.served_version,
       (SELECT json_group_array(json_array(f.path, f.size, f.sha256, f.blob_id, f.exec, f.entry_offset, f.entry_len, e.entries_key))
          FROM store_files f WHERE f.entity_id = e.id),
       e.updated_at
  FROM store_entities e;
