-- Curated marketplaces that follow an upstream git repository (issue 9).
-- `auth_secret` and `webhook_secret` are the *names* of Worker secrets
-- (`wrangler secret put NAME`), never the secrets. A sync takes the lease
-- (`lease_until`, Unix seconds) so two never ingest the same marketplace at
-- once; it records its outcome in the `last_*` columns.
CREATE TABLE marketplace_sources (
  slug               TEXT    PRIMARY KEY,
  url                TEXT    NOT NULL,
  ref                TEXT,
  auth_secret        TEXT,
  webhook_secret     TEXT,
  created_at         INTEGER NOT NULL,
  lease_until        INTEGER,
  last_attempt_at    INTEGER,
  last_success_at    INTEGER,
  upstream_commit    TEXT,
  last_error_code    TEXT,
  last_error_message TEXT
);
