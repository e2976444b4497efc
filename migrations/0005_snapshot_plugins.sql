-- Which curated plugins each cached view holds (issue 8), so that an admin
-- can purge the packs and ZIPs of every view serving one plugin
-- (`POST /api/admin/cache/purge {"plugin": "<slug>/<plugin>"}`). A JSON
-- array of "<slug>/<plugin>" keys; NULL for views cached before this.
ALTER TABLE snapshots ADD COLUMN plugins TEXT;
