-- What a full read of the code found (issue 17).
--
-- 1. A plugin's served directory (`plugins/<slug>-<plugin>/`) belongs to one
--    plugin catalog-wide: `acme`/`x-lint` and `acme-x`/`lint` would both be
--    served at `plugins/acme-x-lint/`. The Worker writes the directory with
--    each plugin row (`PluginKey::served_dir`), and this index refuses the
--    second one (the import answers 409 `directory_taken`). Rows already
--    stored that clash: the earliest holds the directory here, a later one
--    keeps NULL; a view serves one plugin per directory (the first in
--    served order; the other is logged) until the later one's marketplace
--    is re-imported, which is then refused in words.
ALTER TABLE plugins ADD COLUMN served_dir TEXT;
UPDATE plugins SET served_dir = marketplace || '-' || name
 WHERE NOT EXISTS (SELECT 1 FROM plugins q
                    WHERE q.marketplace || '-' || q.name = plugins.marketplace || '-' || plugins.name
                      AND q.rowid < plugins.rowid);
CREATE UNIQUE INDEX plugins_served_dir ON plugins(served_dir);

-- 2. A sync lease belongs to its holder: only the sync that took it ends it
--    (a slow sync whose lease expired must not clear its successor's).
ALTER TABLE marketplace_sources ADD COLUMN lease_holder TEXT;

-- 3. Syncs started by a webhook or by cron are audited with the upstream
--    commit and the outcome, which go here (JSON; NULL for other rows).
ALTER TABLE audit_log ADD COLUMN detail TEXT;
CREATE INDEX audit_log_at ON audit_log(at);

-- 4. `writers.started_at` and `gc_lock.started_at` are now renewed while
--    their holder works (a heartbeat), so both expire a short lease after
--    their holder dies instead of an hour / ten minutes after it started;
--    and the GC lock names its holder, so only it renews or releases it.
ALTER TABLE gc_lock ADD COLUMN holder TEXT;
