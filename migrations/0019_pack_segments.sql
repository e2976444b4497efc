-- Pack segments (issue 21): each plugin's objects as pack entries, stored
-- once per distinct plugin tree. Segments written together (an import's,
-- or those one miss lacked) share one R2 object `segments/<key>`: every
-- segment's raw bytes back to back, then every segment's bytes framed as
-- side-band-64k packets, in the order views list the plugins, so a view's
-- consecutive plugins are read as one range. A row is written only once
-- its object is whole in R2, and GC removes rows before the objects no
-- row names any more, so a row always names a complete segment; a miss
-- reads these rows instead of the plugins' file rows.
CREATE TABLE pack_segments (
  tree_id        TEXT    PRIMARY KEY,
  object_key     TEXT    NOT NULL,
  raw_offset     INTEGER NOT NULL,
  raw_len        INTEGER NOT NULL,
  framed_offset  INTEGER NOT NULL,
  framed_len     INTEGER NOT NULL,
  objects        INTEGER NOT NULL,
  created_at     INTEGER NOT NULL
);
CREATE INDEX pack_segments_object ON pack_segments(object_key);
