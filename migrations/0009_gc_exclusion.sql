-- Garbage collection never races a writer (issue 10). Content-addressed
-- `entries/` objects can be written again, identically, by a later import
-- while GC is deciding to delete them; so writers of R2 objects (imports,
-- syncs, Store uploads) register in `writers` for their duration, and GC
-- holds `gc_lock` while it lists and deletes. Each sets its own flag and
-- then checks the other's (a writer waits for GC; GC defers to a writer):
-- D1 runs statements one at a time, so at least one of the two sees the
-- other. Rows older than their expiry belong to processes that died.
CREATE TABLE writers (
  id          TEXT    PRIMARY KEY,
  started_at  INTEGER NOT NULL
);

CREATE TABLE gc_lock (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  started_at  INTEGER
);
INSERT INTO gc_lock (id, started_at) VALUES (1, NULL);
