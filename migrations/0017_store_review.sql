-- Review before anything runs anywhere (issue 20). An upload the review
-- mode covers is `pending`: a new entry is stored with that status (never
-- listed for others, installed or served), and a new version of an
-- approved entry is only a `store_versions` row, so installers keep the
-- approved version byte for byte until an admin approves it. The entity's
-- `status` is its served state; each version has its own, with who
-- decided, when, and why.
ALTER TABLE store_entities ADD COLUMN status TEXT NOT NULL DEFAULT 'approved'
  CHECK (status IN ('approved', 'pending', 'rejected'));
ALTER TABLE store_versions ADD COLUMN reviewed_by TEXT;
ALTER TABLE store_versions ADD COLUMN reviewed_at INTEGER;
ALTER TABLE store_versions ADD COLUMN reason TEXT;
CREATE INDEX store_versions_pending ON store_versions(status, created_at);

-- Deployment-wide settings an admin changes at run time.
CREATE TABLE settings (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
);
