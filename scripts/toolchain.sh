# Sourced by the other scripts (`. scripts/toolchain.sh`): puts the
# project's own tools first on PATH. `target/node/bin` holds the Node.js
# that scripts/setup.sh installs from the npm registry when the machine's
# is older than current wrangler needs; the system's is never touched.
# The Rust tests and the browser tests' server prepend the same folder.
if [ -x target/node/bin/node ]; then
  PATH="$PWD/target/node/bin:$PATH"
fi
PATH="$HOME/.cargo/bin:$PATH"
export PATH
