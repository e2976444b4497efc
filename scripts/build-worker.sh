#!/bin/sh
# Builds the Worker (build/index.js + wasm) with worker-build, pointing it at
# the toolchain scripts/setup.sh installed, because worker-build's own
# downloads come from GitHub, which some machines cannot reach.
#
# MARKETPLACE_EDGE_SKIP_BUILD=1 skips the build when build/ is already
# present: the test runner builds once, then starts wrangler dev many times.
set -eu
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
if [ "${MARKETPLACE_EDGE_SKIP_BUILD:-}" = "1" ] && [ -f build/index.js ]; then
  exit 0
fi
[ -x "$HOME/.cargo/bin/wasm-bindgen" ] && export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
[ -x node_modules/.bin/wasm-opt ] && export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
[ -x node_modules/.bin/esbuild ] && export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
exec worker-build --release
