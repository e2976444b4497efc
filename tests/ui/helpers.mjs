// Helpers of the browser tests: the admin API (ADMIN_TOKEN from .dev.vars),
// unique names so tests share one Worker without meeting, ZIPs written by
// Python's zipfile, the real git CLI, and the checks every page gets
// (axe-core accessibility scan, 390 px without horizontal scrolling, a
// screenshot).
import { expect } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, statSync, readFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const ADMIN_TOKEN = "dev-admin-token";
export const SCREENSHOTS = process.env.UI_SCREENSHOTS_DIR || join(ROOT, "target/ui/screenshots");

/** The Worker under test. */
export function base() {
  const b = process.env.UI_BASE_URL;
  if (!b) throw new Error("UI_BASE_URL is not set: run the tests through `npx playwright test` (tests/ui/server.mjs starts the Worker)");
  return b;
}

/** A name no other test uses: `<prefix>-<6 random chars>`. */
export function uniq(prefix) {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Calls the API with a bearer token; checks the status; returns JSON or
 *  null. `path` is below the shared Worker, or a full URL. */
export async function call(token, method, path, body, status) {
  const headers = { Authorization: `Bearer ${token}` };
  let payload = body;
  if (body !== undefined && !(body instanceof Uint8Array) && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const r = await fetch(path.startsWith("http") ? path : `${base()}${path}`, { method, headers, body: payload });
  const text = await r.text();
  if (status !== undefined) expect(r.status, `${method} ${path}: ${text}`).toBe(status);
  return text && r.headers.get("content-type")?.startsWith("application/json") ? JSON.parse(text) : null;
}

/** An admin API call that must answer `status`. */
export const admin = (method, path, body, status) => call(ADMIN_TOKEN, method, path, body, status);

/** Creates a user (admin or not) and returns a fresh token of theirs. */
export async function newUser(username, { isAdmin = false } = {}) {
  await admin("POST", "/api/admin/users", { username, email: `${username}@example.com`, admin: isAdmin }, 201);
  return (await admin("POST", `/api/admin/users/${username}/tokens`, { name: "ui-test" }, 201)).token;
}

/** Creates a group with members. */
export async function newGroup(name, members) {
  await admin("POST", "/api/admin/groups", { name }, 201);
  for (const m of members) await admin("PUT", `/api/admin/groups/${name}/members/${m}`, undefined, 204);
}

/** ZIP bytes of `files` ({path: content}), written by Python's zipfile. */
export function zipOf(files) {
  const script = "import json,sys,zipfile,io\nb=io.BytesIO()\nz=zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED)\n" +
    "[z.writestr(p,c) for p,c in json.load(sys.stdin).items()]\nz.close()\nsys.stdout.buffer.write(b.getvalue())";
  return execFileSync("python3", ["-c", script], { input: JSON.stringify(files) });
}

/** Writes ZIP bytes to a temporary file; returns its path. */
export function zipFile(name, files) {
  const dir = mkdtempSync(join(tmpdir(), "ui-zip-"));
  const path = join(dir, name);
  execFileSync("python3", ["-c", "import sys; open(sys.argv[1],'wb').write(sys.stdin.buffer.read())", path], { input: zipOf(files) });
  return path;
}

/** A skill's files. */
export function skillFiles(name, body = "Do the thing.") {
  return { [`${name}/SKILL.md`]: `---\nname: ${name}\ndescription: A skill called ${name}\n---\n\n${body}\n`, [`${name}/notes.txt`]: "supporting notes\n" };
}

/** An agent's files. */
export function agentFiles(name) {
  return { [`${name}.md`]: `---\nname: ${name}\ndescription: An agent called ${name}\n---\n\nYou review things.\n` };
}

/** A curated marketplace with plugins `names`, as a ZIP. */
export function marketplaceZip(marketName, names, version = "1.0.0") {
  return zipOf(marketplaceFiles(marketName, names, version));
}

/** Imports a marketplace archive as the bootstrap admin. */
export async function importMarketplace(slug, names) {
  return admin("PUT", `/api/admin/marketplaces/${slug}`, new Uint8Array(marketplaceZip(slug, names)), 200);
}

/** Publishes a Store entity through the API; returns it. */
export async function publish(token, { type = "skill", name, title, tagline = "A tagline", description = "A description", category = "Testing", files }) {
  const form = new FormData();
  for (const [k, v] of Object.entries({ type, name, title: title || name, tagline, description, category })) form.set(k, v);
  const zip = zipOf(files || (type === "agent" ? agentFiles(name) : skillFiles(name)));
  form.set("file", new Blob([zip], { type: "application/zip" }), `${name}.zip`);
  return (await call(token, "POST", "/api/store/entities", form, 201)).entity;
}

/** Signs in through the sign-in page. */
export async function signIn(page, token) {
  await page.goto(`${base()}/signin`);
  await page.getByLabel("Token", { exact: true }).fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
  // Let the landing page finish its requests before the test moves on.
  await expect(page.locator("main h1")).toBeVisible();
  await page.waitForLoadState("networkidle");
}

/** Clones the user's marketplace with the real git; returns its file paths. */
export function cloneFiles(token) {
  const dir = mkdtempSync(join(tmpdir(), "ui-clone-"));
  const url = `http://x:${token}@${base().replace(/^http:\/\//, "")}/marketplace.git`;
  execFileSync("git", ["clone", "--quiet", "--depth", "1", url, join(dir, "m")], { stdio: "pipe", env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
  execFileSync("git", ["-C", join(dir, "m"), "fsck", "--strict"], { stdio: "pipe" });
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d)) {
      if (e === ".git") continue;
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p); else out.push(relative(join(dir, "m"), p));
    }
  };
  walk(join(dir, "m"));
  return { dir: join(dir, "m"), files: out.sort(), read: (p) => readFileSync(join(dir, "m", p), "utf8") };
}

/** Runs the page checks: no serious or critical axe violation, no
 *  horizontal scrolling at 390 px, and a screenshot named `name`. */
export async function checkPage(page, name) {
  // A toast fading in is half transparent; axe would measure its contrast
  // mid-transition. Check the page at rest.
  await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== "running"));
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`), `axe on ${name}`).toEqual([]);
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(100);
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  expect(widths[0], `${name} scrolls horizontally at 390 px`).toBeLessThanOrEqual(widths[1]);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-390.png`), fullPage: true });
  await page.setViewportSize(size);
}

/** An upstream git repository served by the real `git http-backend` (as
 *  CGI, from a Node HTTP server on 127.0.0.1): `commit(files)` replaces its
 *  content ({path: content}) and returns the new commit; `close()` stops it. */
export async function gitUpstream(files) {
  const { createServer } = await import("node:http");
  const { spawn } = await import("node:child_process");
  const { writeFileSync, rmSync } = await import("node:fs");
  const root = mkdtempSync(join(tmpdir(), "ui-upstream-"));
  const work = join(root, "work");
  const git = (...args) => execFileSync("git", args, {
    cwd: work, stdio: "pipe",
    env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" },
  }).toString().trim();
  mkdirSync(work);
  git("init", "-q", "-b", "main", ".");
  execFileSync("git", ["init", "-q", "--bare", "-b", "main", join(root, "up.git")]);
  git("remote", "add", "origin", join(root, "up.git"));
  const commit = (content) => {
    for (const e of readdirSync(work)) if (e !== ".git") rmSync(join(work, e), { recursive: true });
    for (const [p, c] of Object.entries(content)) {
      mkdirSync(join(work, p, ".."), { recursive: true });
      writeFileSync(join(work, p), c);
    }
    git("add", "-A");
    git("commit", "-q", "-m", "update");
    git("push", "-q", "origin", "main");
    return git("rev-parse", "HEAD");
  };
  commit(files);
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const [path, query = ""] = req.url.split("?");
      const cgi = spawn("git", ["http-backend"], {
        env: {
          ...process.env, GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: "1", REQUEST_METHOD: req.method,
          PATH_INFO: path, QUERY_STRING: query, CONTENT_TYPE: req.headers["content-type"] || "",
          CONTENT_LENGTH: String(body.length), HTTP_GIT_PROTOCOL: req.headers["git-protocol"] || "",
        },
      });
      const out = [];
      cgi.stdout.on("data", (c) => out.push(c));
      cgi.on("close", () => {
        const all = Buffer.concat(out);
        const split = all.indexOf("\r\n\r\n") >= 0 ? [all.indexOf("\r\n\r\n"), 4] : [all.indexOf("\n\n"), 2];
        const head = all.subarray(0, split[0]).toString();
        let status = 200;
        for (const line of head.split(/\r?\n/)) {
          const [k, ...v] = line.split(":");
          if (!v.length) continue;
          if (k.toLowerCase() === "status") status = parseInt(v.join(":").trim(), 10);
          else res.setHeader(k.trim(), v.join(":").trim());
        }
        res.writeHead(status);
        res.end(all.subarray(split[0] + split[1]));
      });
      // http-backend may answer and exit before it reads the whole body
      // (a web server in front of it ignores that too): the answer it
      // wrote is still sent, and the broken pipe is not the test's error.
      cgi.stdin.on("error", (e) => { if (e.code !== "EPIPE") throw e; });
      cgi.stdin.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/up.git`,
    head: () => git("rev-parse", "HEAD"),
    commit,
    close: () => server.close(),
  };
}

/** The files of a marketplace repository with plugins `names`. */
export function marketplaceFiles(marketName, names, version = "1.0.0") {
  const files = {
    ".claude-plugin/marketplace.json": JSON.stringify({
      name: marketName, owner: { name: "Platform team" },
      plugins: names.map((n) => ({ name: n, source: `./plugins/${n}`, description: `The ${n} plugin` })),
    }),
  };
  for (const n of names) {
    files[`plugins/${n}/.claude-plugin/plugin.json`] = JSON.stringify({ name: n, version, description: `The ${n} plugin` });
    files[`plugins/${n}/commands/${n}.md`] = `Run ${n}.\n`;
  }
  return files;
}
