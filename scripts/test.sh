#!/bin/sh
# The test command: the same setup as the run command, a fresh Worker build,
# then every test: unit tests, native tests against the real git, the
# end-to-end tests, which start the compiled Worker under `wrangler dev`
# (real workerd, local D1 and R2) and drive it with the real git and Claude
# Code CLIs, and the browser tests of the web UI (Playwright driving
# Debian's chromium against its own `wrangler dev`).
# Every binary runs even when one fails (--no-fail-fast), and the run ends
# with one line totalling every test binary's results.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
# After setup, which may have installed the project's own Node.
. scripts/toolchain.sh
sh scripts/build-worker.sh

log=$(mktemp)
status=$(mktemp)
trap 'rm -f "$log" "$status"' EXIT
# Exit codes are captured by hand (a pipeline reports tee's), so errexit
# must not end the group before it records the code.
set +e
{ cargo test --locked --all-targets --no-fail-fast 2>&1; echo $? > "$status"; } | tee "$log"
rc=$(cat "$status")
{ npx playwright test 2>&1; echo $? > "$status"; } | tee -a "$log"
ui_rc=$(cat "$status")
set -e
# cargo prints "test result: … N passed; M failed"; Playwright "N passed" / "M failed" lines.
failed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^ +[0-9]+ passed/ { p += $1 } /^ +[0-9]+ failed/ { f += $1 } /^ +[0-9]+ (flaky|skipped|did not run)/ { f += $1 }
     END { printf "\nall test binaries: %d passed, %d failed\n", p, f > "/dev/stderr"; print f + 0 }' "$log")
[ "$rc" = 0 ] && [ "$ui_rc" = 0 ] && [ "$failed" = 0 ]
