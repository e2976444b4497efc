-- Large imports (issue 8): an import is read as a stream and its entries are
-- sealed into objects of a few MiB in archive order, so one plugin's files
-- may lie in several `entries/…` objects and one object may hold several
-- plugins' files. Each file row names its own object; NULL for rows written
-- before this, whose object is their plugin's `entries_key`.
ALTER TABLE plugin_files ADD COLUMN entries_key TEXT;
CREATE INDEX plugin_files_entries_key ON plugin_files(entries_key);
