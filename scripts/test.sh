#!/bin/sh
# The test command: the same setup as the run command, a fresh Worker build,
# then every test: unit tests, native tests against the real git, and the
# end-to-end tests, which start the compiled Worker under `wrangler dev`
# (real workerd, local D1 and R2) and drive it with the real git CLI.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
sh scripts/build-worker.sh
# Two cores: one test binary at a time keeps wrangler's startup out of the
# way of the CPU-heavy native tests.
cargo test --locked -- --test-threads=4
