-- Plugin summaries (issue 8): what a view's head (ETag, manifest, root tree,
-- commit) needs, stored once at import or upload so that the ref
-- advertisement and ls-refs read plugin rows, never file rows.
-- Rows written before this migration have NULLs; the Worker then computes
-- the same values from their files.

-- The git tree of the plugin's directory and the digest of its files.
ALTER TABLE plugins ADD COLUMN tree_id TEXT;
ALTER TABLE plugins ADD COLUMN files_digest TEXT;

-- An entity's root as placed in a tree: a skill's or plugin's tree
-- (root_mode '40000') or an agent's one file ('100644' / '100755').
ALTER TABLE store_entities ADD COLUMN root_id TEXT;
ALTER TABLE store_entities ADD COLUMN root_mode TEXT;
ALTER TABLE store_entities ADD COLUMN files_digest TEXT;
