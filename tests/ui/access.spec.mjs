// Cloudflare Access single sign-on, tested offline: the test plays the
// Access team (an RSA key pair, its JWKS served from a local HTTP server)
// and starts its own Worker pointed at it through ACCESS_CERTS_URL, the
// variable documented as test-only.
import { test, expect } from "@playwright/test";
import { createServer } from "node:http";
import { startWorker } from "./server.mjs";
import { keyPair, signJwt, unsignedJwt } from "./jwt.mjs";
import { ADMIN_TOKEN, call, uniq, checkPage, zipOf } from "./helpers.mjs";

const TEAM = "team.example.com";
const AUD = "marketplace-edge-test-aud";
let worker, jwks, keys;
const now = () => Math.floor(Date.now() / 1000);

/** An Access token as the team would issue it for `email`. */
function accessToken(email, { key = keys[0], claims = {}, header = {} } = {}) {
  return signJwt(key.privateKey, { kid: key.kid, ...header }, {
    aud: [AUD], iss: `https://${TEAM}`, email, sub: email, iat: now(), nbf: now() - 5, exp: now() + 600, ...claims,
  });
}

test.beforeAll(async () => {
  keys = [keyPair("key-1")];
  jwks = createServer((req, res) => {
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ keys: keys.map((k) => k.jwk) }));
  });
  await new Promise((r) => jwks.listen(0, "127.0.0.1", r));
  worker = await startWorker({
    ACCESS_TEAM_DOMAIN: TEAM,
    ACCESS_AUD: AUD,
    ACCESS_CERTS_URL: `http://127.0.0.1:${jwks.address().port}/cdn-cgi/access/certs`,
  });
});

test.afterAll(async () => {
  await worker?.stop();
  jwks?.close();
});

const admin = (method, path, body, status) => call(ADMIN_TOKEN, method, `${worker.base}${path}`, body, status);

async function user(name) {
  await admin("POST", "/api/admin/users", { username: name, email: `${name}@example.com` }, 201);
  return `${name}@example.com`;
}

test("an empty Store invites the first upload (this Worker's Store starts empty)", async ({ browser }) => {
  const email = await user(uniq("first"));
  const context = await browser.newContext({ extraHTTPHeaders: { "Cf-Access-Jwt-Assertion": accessToken(email) } });
  const page = await context.newPage();
  await page.goto(`${worker.base}/store`);
  await expect(page.getByText("The Store is empty so far.")).toBeVisible();
  await page.getByRole("link", { name: "Upload the first skill, agent or plugin" }).click();
  await expect(page.getByRole("heading", { name: "Upload to the Store" })).toBeVisible();
  await context.close();
});

test("a verified Access token signs the member in without a sign-in page", async ({ browser }) => {
  const name = uniq("sso");
  const email = await user(name);
  const context = await browser.newContext({ extraHTTPHeaders: { "Cf-Access-Jwt-Assertion": accessToken(email.toUpperCase()) } });
  const page = await context.newPage();
  await page.goto(`${worker.base}/my-ai-stack`);
  await expect(page.getByRole("heading", { name: "My AI Stack" })).toBeVisible();
  await expect(page.getByText(name, { exact: true })).toBeVisible();
  // Signing out of Access happens at Access.
  await expect(page.getByRole("link", { name: "Sign out" })).toHaveAttribute("href", "/cdn-cgi/access/logout");
  await checkPage(page, "my-ai-stack-access");
  // Changes from the UI work (same origin, UI header) ...
  const maker = uniq("maker");
  await admin("POST", "/api/admin/users", { username: maker, email: `${maker}@example.com` }, 201);
  const makerToken = (await admin("POST", `/api/admin/users/${maker}/tokens`, { name: "t" }, 201)).token;
  const form = new FormData();
  for (const [k, v] of Object.entries({ type: "skill", name: "sso-skill", title: "SSO Skill", tagline: "t", description: "d", category: "c" })) form.set(k, v);
  form.set("file", new Blob([zipOf({ "s/SKILL.md": "---\nname: s\ndescription: d\n---\n" })]), "s.zip");
  const entity = (await call(makerToken, "POST", `${worker.base}/api/store/entities`, form, 201)).entity;
  await page.goto(`${worker.base}/store/${entity.id}`);
  await page.getByRole("button", { name: "Install SSO Skill" }).click();
  await expect(page.getByRole("button", { name: "Uninstall SSO Skill" })).toBeVisible();
  // ... a cross-site one does not.
  const r = await fetch(`${worker.base}/api/store/entities/${entity.id}/install`, {
    method: "DELETE", headers: { "Cf-Access-Jwt-Assertion": accessToken(email), Origin: "https://evil.example", "X-Marketplace-Edge": "ui" },
  });
  expect(r.status).toBe(403);
  expect((await r.json()).error.code).toBe("cross_site_request");
  await context.close();
});

test("invalid Access tokens, and the email header alone, are refused", async () => {
  const email = await user(uniq("guarded"));
  const session = (headers) => fetch(`${worker.base}/api/session`, { headers });
  const refused = async (token, code, status = 401) => {
    const r = await session({ "Cf-Access-Jwt-Assertion": token });
    const body = await r.json();
    expect({ status: r.status, code: body.error.code }, body.error.message).toEqual({ status, code });
  };
  const ok = await session({ "Cf-Access-Jwt-Assertion": accessToken(email) });
  expect(ok.status).toBe(200);
  expect(await ok.json()).toMatchObject({ via: "access" });
  await refused(accessToken(email, { claims: { aud: ["another-app"] } }), "access_denied");
  await refused(accessToken(email, { claims: { iss: "https://evil.cloudflareaccess.com" } }), "access_denied");
  await refused(accessToken(email, { claims: { exp: now() - 1 } }), "access_denied");
  await refused(accessToken(email, { key: { ...keyPair("key-1"), kid: "key-1" } }), "access_denied");
  await refused(unsignedJwt("none", { aud: [AUD], iss: `https://${TEAM}`, email, exp: now() + 600 }), "access_denied");
  await refused("garbage", "access_denied");
  await refused(accessToken("nobody@example.com"), "access_no_user", 403);
  // Access's plain email header proves nothing without the signed token.
  const r = await session({ "Cf-Access-Authenticated-User-Email": email });
  expect(r.status).toBe(401);
  expect((await r.json()).error.code).toBe("unauthorized");
});

test("a rotated Access key is fetched when a token names it", async () => {
  const email = await user(uniq("rotated"));
  expect((await fetch(`${worker.base}/api/session`, { headers: { "Cf-Access-Jwt-Assertion": accessToken(email) } })).status).toBe(200);
  const fresh = keyPair("key-2");
  keys = [keys[0], fresh];
  // The cache may hold the old set for up to 10 s before refetching for an unknown kid.
  await expect.poll(async () => (await fetch(`${worker.base}/api/session`, {
    headers: { "Cf-Access-Jwt-Assertion": accessToken(email, { key: fresh }) },
  })).status, { timeout: 30_000, intervals: [1000, 2000] }).toBe(200);
});

test("an Access user without a user here is told why on the sign-in page", async ({ browser }) => {
  const context = await browser.newContext({ extraHTTPHeaders: { "Cf-Access-Jwt-Assertion": accessToken("stranger@example.com") } });
  const page = await context.newPage();
  await page.goto(`${worker.base}/store`);
  await expect(page).toHaveURL(/\/signin/);
  await expect(page.getByRole("alert")).toHaveText("Cloudflare Access signed you in, but no user here has your email. Ask an admin to create your user.");
  await context.close();
});
