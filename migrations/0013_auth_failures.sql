-- Throttling failed authentication (issue 11): failures per client (its
-- CF-Connecting-IP) in the current one-minute window. Only requests that
-- presented credentials and were refused are counted, so a successful
-- request never reads or writes this table.
CREATE TABLE auth_failures (
  client        TEXT    PRIMARY KEY,
  window_start  INTEGER NOT NULL,
  failures      INTEGER NOT NULL
);
