-- Pack segments (issue 21): each plugin's objects as pack entries, stored
-- once per distinct plugin tree in R2 under `segments/<tree_id>` (raw
-- bytes, then the same framed as side-band-64k packets). A row is written
-- only once its object is whole in R2, and GC removes the row before the
-- object, so a row always names a complete segment; a miss reads these
-- rows instead of the plugins' file rows.
CREATE TABLE pack_segments (
  tree_id     TEXT    PRIMARY KEY,
  raw_len     INTEGER NOT NULL,
  framed_len  INTEGER NOT NULL,
  objects     INTEGER NOT NULL,
  created_at  INTEGER NOT NULL
);
