// Global setup of the browser tests: starts the compiled Worker under
// `wrangler dev` on a free port, with a fresh state directory (local D1 and
// R2, migrations applied), and stops it when the tests end. The base URL
// reaches the tests through UI_BASE_URL.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

// wrangler runs the custom build once more when its watcher of src/ is
// ready ("The file src changed, restarting build...") and reloads the
// Worker, resetting requests in flight; so the Worker is up once that
// rebuild is logged (or 20 s passed without it) and /healthz answers after.
async function waitForHealth(base, child, log) {
  const deadline = Date.now() + 120_000;
  let healthySince = null;
  const healthy = async () => {
    try { return (await fetch(`${base}/healthz`)).ok; } catch { return false; }
  };
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited; see ${log}`);
    if (await healthy()) {
      healthySince ??= Date.now();
      const rebuilt = readFileSync(log, "utf8").includes("restarting build");
      if (!rebuilt && Date.now() - healthySince > 20_000) return;
      if (rebuilt) {
        await new Promise((r) => setTimeout(r, 500));
        if (await healthy()) return;
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not answer /healthz within 120 s; see ${log}`);
}

/** Starts the Worker under `wrangler dev` with fresh local state and
 *  `vars` (name → value) on top of wrangler.toml's; returns its base URL
 *  and a function that stops it. */
export async function startWorker(vars = {}) {
  const wrangler = join(ROOT, "node_modules/.bin/wrangler");
  for (const [path, advice] of [[wrangler, "run scripts/setup.sh"], [join(ROOT, "build/index.js"), "run scripts/build-worker.sh"]]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: ${advice}`);
  }
  const state = mkdtempSync(join(tmpdir(), "ui-wrangler-"));
  // Asked for at once; the inspector gets its own port
  // because wrangler's rebuild re-binds it (the default 9229 collides).
  const [port, inspector] = await Promise.all([freePort(), freePort()]);
  const log = join(ROOT, `target/ui/wrangler-${port}.log`);
  execFileSync("mkdir", ["-p", join(ROOT, "target/ui")]);
  execFileSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], { cwd: ROOT, stdio: "ignore" });
  const out = openSync(log, "w");
  const varArgs = Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
  const child = spawn(wrangler, ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--persist-to", state, "--show-interactive-dev-session=false", ...varArgs], {
    cwd: ROOT,
    env: { ...process.env, MARKETPLACE_EDGE_SKIP_BUILD: "1" },
    stdio: ["ignore", out, out],
    detached: true,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForHealth(base, child, log);
  const stop = async () => {
    try { process.kill(-child.pid, "SIGTERM"); } catch { /* gone */ }
    await new Promise((r) => setTimeout(r, 1500));
    try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ }
    rmSync(state, { recursive: true, force: true });
  };
  return { base, stop };
}

/** The value of the shared Worker's `UPSTREAM_UI_HOOK` secret. */
export const UI_HOOK_SECRET = "ui-hook-secret-for-tests";

export default async function globalSetup() {
  if (process.env.UI_BASE_URL) return undefined; // a server the caller runs
  // The webhook secret the upstream-following test signs its push with.
  const { base, stop } = await startWorker({ UPSTREAM_UI_HOOK: UI_HOOK_SECRET });
  process.env.UI_BASE_URL = base;
  // The shared Worker serves uploads at once, so the pages' tests can
  // install what they publish; review has tests of its own.
  const r = await fetch(`${base}/api/admin/settings/store-review`, {
    method: "PUT",
    headers: { Authorization: "Bearer dev-admin-token", "Content-Type": "application/json" },
    body: JSON.stringify({ mode: "off" }),
  });
  if (!r.ok) throw new Error(`setting the review mode failed: ${r.status} ${await r.text()}`);
  return stop;
}
