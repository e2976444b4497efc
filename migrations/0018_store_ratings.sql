-- Ratings and signals for the Store (issue 20): one thumbs-up or
-- thumbs-down per member and entry, changeable and withdrawable. The
-- listing sorts by up minus down; the counts are read per entity, so the
-- index by entity keeps them cheap.
CREATE TABLE store_ratings (
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  entity_id  INTEGER NOT NULL REFERENCES store_entities(id) ON DELETE CASCADE,
  value      INTEGER NOT NULL CHECK (value IN (1, -1)),
  rated_at   INTEGER NOT NULL,
  PRIMARY KEY (user_id, entity_id)
);
CREATE INDEX store_ratings_entity ON store_ratings(entity_id, value);

-- Installs in the last 30 days count by when they were made.
CREATE INDEX store_installs_recent ON store_installs(entity_id, installed_at);
