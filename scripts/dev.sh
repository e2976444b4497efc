#!/bin/sh
# The run command: installs what is missing, builds the Worker, applies the
# D1 migrations to the local database, starts `wrangler dev` on
# http://127.0.0.1:8787 (local D1 and R2 under .wrangler/state), seeds the
# demo catalog on first start, and prints the line to paste into Claude Code.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
# After setup, which may have installed the project's own Node.
. scripts/toolchain.sh
sh scripts/build-worker.sh
npx wrangler d1 migrations apply DB --local --persist-to .wrangler/state
MARKETPLACE_EDGE_SKIP_BUILD=1 npx wrangler dev --ip 127.0.0.1 --port 8787 --persist-to .wrangler/state &
pid=$!
trap 'kill $pid 2>/dev/null' INT TERM EXIT
i=0
until curl -sf http://127.0.0.1:8787/healthz >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -lt 120 ] || { echo "error: wrangler dev did not start within 60 s" >&2; exit 1; }
  kill -0 $pid 2>/dev/null || { echo "error: wrangler dev exited" >&2; exit 1; }
  sleep 0.5
done
sh scripts/seed-demo.sh http://127.0.0.1:8787 .wrangler/state
wait $pid
