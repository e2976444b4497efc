#!/bin/sh
# Seeds the local demo catalog once, through the Worker's own admin API:
# users `admin` (admin) and `dev` (member), group `everyone`, the curated
# marketplace in demo/marketplace as `demo`, grants, and two Store entries
# by dev from demo/store. The `dev` and
# `admin` users get fixed tokens so the lines printed below always work;
# they are for local development only and are inserted straight into the
# local D1.
#
# Usage: scripts/seed-demo.sh <base-url> [persist-dir]
set -eu
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
BASE=$1
PERSIST=${2:-.wrangler/state}
ADMIN="Authorization: Bearer dev-admin-token"
DEV_PAT=mpe_de0de0de0de0de0de0de0de0de0de0de0de0de0d
ADMIN_PAT=mpe_ad0ad0ad0ad0ad0ad0ad0ad0ad0ad0ad0ad0ad0a

api() { # method path [json]
  curl -sS -o /dev/null -w '%{http_code}' -X "$1" "$BASE$2" -H "$ADMIN" -H 'Content-Type: application/json' ${3:+-d "$3"}
}

if curl -sS "$BASE/api/admin/users" -H "$ADMIN" | grep -q '"username":"dev"'; then
  echo "demo catalog already seeded"
else
  echo "seeding the demo catalog"
  api POST /api/admin/users '{"username":"admin","email":"admin@example.com","admin":true}' >/dev/null
  api POST /api/admin/users '{"username":"dev","email":"dev@example.com"}' >/dev/null
  api POST /api/admin/groups '{"name":"everyone"}' >/dev/null
  api PUT /api/admin/groups/everyone/members/dev >/dev/null
  archive=$(mktemp)
  tar -C demo/marketplace -czf "$archive" .
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "$BASE/api/admin/marketplaces/demo" -H "$ADMIN" --data-binary @"$archive")
  rm -f "$archive"
  [ "$code" = 200 ] || { echo "error: importing demo/marketplace failed with HTTP $code" >&2; exit 1; }
  api PUT /api/admin/groups/everyone/grants/demo/code-review '{"requirement":"required"}' >/dev/null
  api PUT /api/admin/groups/everyone/grants/demo/commit-helper '{"requirement":"available"}' >/dev/null
  api PUT /api/admin/groups/everyone/grants/demo/docs-writer '{"requirement":"available"}' >/dev/null
  api PUT /api/admin/groups/everyone/grants/demo/upstream-example '{"requirement":"available"}' >/dev/null
fi
# The fixed tokens, also on a state seeded before they existed (idempotent).
fixed_token() { # username token-id token
  hash=$(printf %s "$3" | sha256sum | cut -d' ' -f1)
  npx wrangler d1 execute DB --local --persist-to "$PERSIST" --command \
    "INSERT OR IGNORE INTO tokens (id, user_id, name, token_sha256, created_at) SELECT '$2', id, 'fixed dev token', '$hash', 0 FROM users WHERE username = '$1'" >/dev/null
}
fixed_token dev dev-fixed-token "$DEV_PAT"
fixed_token admin admin-fixed-token "$ADMIN_PAT"

# Three Store entries by dev (demo/store), so the Store has something to
# show and the review queue something waiting.
if curl -sS "$BASE/api/store/entities" -H "Authorization: Bearer $DEV_PAT" | grep -q '"total":0'; then
  publish() { # type name title tagline category folder
    dir=$(mktemp -d)
    zip="$dir/entry.zip"
    python3 -c 'import sys, os, zipfile
z = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED)
for root, _, files in os.walk(sys.argv[2]):
    for f in files:
        p = os.path.join(root, f)
        z.write(p, os.path.relpath(p, sys.argv[2]))
z.close()' "$zip" "$6"
    code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$BASE/api/store/entities" -H "Authorization: Bearer $DEV_PAT" \
      -F "type=$1" -F "name=$2" -F "title=$3" -F "tagline=$4" -F "category=$5" -F "description=$4 (a demo entry from demo/store)." -F "file=@$zip")
    rm -rf "$dir"
    [ "$code" = 201 ] || { echo "error: publishing the demo Store entry $2 failed with HTTP $code" >&2; exit 1; }
  }
  publish skill pr-summary "PR Summary" "Summarises a pull request for reviewers, riskiest first" "Code review" demo/store/pr-summary
  publish agent security-reviewer "Security Reviewer" "Reviews changes for injection, secrets and missing checks" "Security" demo/store/security-reviewer
  # It runs a hook, so under the default review mode it waits for an admin
  # (the admin user sees it under Admin > Review).
  publish plugin session-notes "Session Notes" "Starts a notes file for the day when a session starts" "Productivity" demo/store/session-notes
fi
HOSTPORT=${BASE#http://}
printf '\n  Web UI:  %s/\n    sign in as the member dev:  %s\n    or as the admin admin:      %s\n' "$BASE" "$DEV_PAT" "$ADMIN_PAT"
printf '\n  Register the demo marketplace in Claude Code:\n\n    claude plugin marketplace add http://x:%s@%s/marketplace.git\n\n' "$DEV_PAT" "$HOSTPORT"
printf '  or clone it:  git clone http://x:%s@%s/marketplace.git\n  admin API:    curl -H "Authorization: Bearer dev-admin-token" %s/api/admin/marketplaces\n\n' "$DEV_PAT" "$HOSTPORT" "$BASE"
