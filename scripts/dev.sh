#!/bin/sh
# The run command: installs what is missing, builds the Worker, applies the
# D1 migrations to the local database, and starts `wrangler dev` on
# http://127.0.0.1:8787 with local D1 and R2 kept under .wrangler/state.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
sh scripts/build-worker.sh
npx wrangler d1 migrations apply DB --local
printf '\n  marketplace-edge on http://127.0.0.1:8787\n  try: git clone http://127.0.0.1:8787/demo.git\n\n'
MARKETPLACE_EDGE_SKIP_BUILD=1 exec npx wrangler dev --ip 127.0.0.1 --port 8787
