#!/bin/sh
# The test command: the same setup as the run command, a fresh Worker build,
# then every test: unit tests, native tests against the real git, and the
# end-to-end tests, which start the compiled Worker under `wrangler dev`
# (real workerd, local D1 and R2) and drive it with the real git CLI.
# It ends with one line totalling every test binary's results.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
sh scripts/build-worker.sh

log=$(mktemp)
status=$(mktemp)
trap 'rm -f "$log" "$status"' EXIT
{ cargo test --locked --all-targets 2>&1; echo $? > "$status"; } | tee "$log"
rc=$(cat "$status")
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "\nall test binaries: %d passed, %d failed\n", p, f }' "$log"
exit "$rc"
