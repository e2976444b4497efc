// A member in the browser: signing in and out, the Store's filters, search
// and pages, installing from a card, the switches of My AI Stack, and the
// Connect Claude Code panel, each checked against a real `git clone` or the
// real Claude Code CLI.
import { test, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ROOT, base, uniq, admin, call, newUser, newGroup, importMarketplace, publish, signIn, cloneFiles, checkPage,
} from "./helpers.mjs";

test("sign in with a token, survive a reload, sign out", async ({ page }) => {
  const user = uniq("signin");
  const token = await newUser(user);
  await page.goto(`${base()}/my-ai-stack`);
  await expect(page).toHaveURL(/\/signin\?next=/);
  await checkPage(page, "signin");
  await page.getByLabel("Token", { exact: true }).fill("mpe_0000000000000000000000000000000000000000");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("That token is not valid");
  await page.getByLabel("Token", { exact: true }).fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Back where the member wanted to go, signed in.
  await expect(page).toHaveURL(/\/my-ai-stack$/);
  await expect(page.getByRole("heading", { name: "My AI Stack" })).toBeVisible();
  await expect(page.getByText(user, { exact: true })).toBeVisible();
  const cookie = (await page.context().cookies()).find((c) => c.name === "mpe_session");
  expect(cookie.httpOnly).toBe(true);
  expect(cookie.sameSite).toBe("Lax");
  // An unknown address says so, inside the UI.
  await page.goto(`${base()}/no/such/page`);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await checkPage(page, "not-found");
  // A deep link survives a reload.
  await page.goto(`${base()}/store?type=skill`);
  await expect(page.getByRole("heading", { name: "Store" })).toBeVisible();
  await expect(page.getByLabel("Type")).toHaveValue("skill");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await page.goto(`${base()}/my-ai-stack`);
  await expect(page).toHaveURL(/\/signin\?next=/);
  // The session cookie no longer opens anything.
  expect((await page.request.get(`${base()}/api/session`)).status()).toBe(401);
});

test("revoking the token a session came from ends the session", async ({ page }) => {
  const user = uniq("revoke");
  const token = await newUser(user);
  await signIn(page, token);
  expect((await page.request.get(`${base()}/api/me/stack`)).status()).toBe(200);
  const { tokens } = await admin("GET", `/api/admin/users/${user}/tokens`, undefined, 200);
  await admin("DELETE", `/api/admin/tokens/${tokens[0].id}`, undefined, 204);
  expect((await page.request.get(`${base()}/api/me/stack`)).status()).toBe(401);
  await page.goto(`${base()}/store`);
  await expect(page).toHaveURL(/\/signin/);
});

test("the Store filters, searches and pages through the URL", async ({ page }) => {
  const owner = uniq("shop");
  const token = await newUser(owner);
  const category = uniq("Cat");
  // 14 entries: 13 skills and one agent, all in one category of their own.
  for (let i = 0; i < 13; i++) {
    await publish(token, { name: `tool-${String(i).padStart(2, "0")}`, title: `Tool ${i}`, category, tagline: i === 7 ? "Finds flaky tests" : "Helps" });
  }
  await publish(token, { type: "agent", name: "reviewer", title: "Reviewer", category });
  const viewer = uniq("viewer");
  await signIn(page, await newUser(viewer));
  await page.goto(`${base()}/store?category=${encodeURIComponent(category)}`);
  await expect(page.getByRole("status").filter({ hasText: "entries" })).toHaveText("14 entries");
  const cards = page.getByRole("list", { name: "Store entries" }).getByRole("listitem");
  await expect(cards).toHaveCount(12);
  await expect(cards.first()).toContainText("Reviewer"); // newest first
  await expect(cards.first()).toContainText(owner);
  await checkPage(page, "store");
  await page.getByRole("link", { name: "Next page" }).click();
  await expect(page).toHaveURL(/page=2/);
  await expect(cards).toHaveCount(2);
  await page.goBack();
  await expect(cards).toHaveCount(12);
  await page.getByLabel("Type").selectOption("agent");
  await expect(page).toHaveURL(/type=agent/);
  await expect(cards).toHaveCount(1);
  await page.getByLabel("Type").selectOption("");
  await expect(page).not.toHaveURL(/type=agent/);
  await expect(cards).toHaveCount(12);
  await page.getByLabel("Search").fill("flaky");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await expect(page).toHaveURL(/q=flaky/);
  await expect(cards).toHaveCount(1);
  await expect(cards.first()).toContainText("Tool 7");
  await page.getByLabel("Search").fill("no-such-words-anywhere");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await expect(page.getByText("Nothing matches these filters.")).toBeVisible();
  await page.getByRole("link", { name: "clear the filters" }).click();
  await expect(page).toHaveURL(/\/store$/);
  // The owner sees "yours" on their own cards.
  await page.getByRole("button", { name: "Sign out" }).click();
  await signIn(page, token);
  await page.goto(`${base()}/store?owner=${owner}`);
  await expect(cards.first().getByText("yours", { exact: true })).toBeVisible();
});

test("install from a card: in My AI Stack and in the next git clone", async ({ page }) => {
  const owner = uniq("maker");
  const ownerToken = await newUser(owner);
  const entity = await publish(ownerToken, { name: "lint-fixer", title: "Lint Fixer", category: uniq("Lint") });
  const member = uniq("member");
  const token = await newUser(member);
  await signIn(page, token);
  await page.goto(`${base()}/store?category=${encodeURIComponent(entity.category)}`);
  await page.getByRole("button", { name: "Install Lint Fixer" }).click();
  await expect(page.getByRole("button", { name: "Uninstall Lint Fixer" })).toBeVisible();
  await expect(page.getByText("1 install (1 in 30 days)", { exact: true })).toBeVisible();
  await page.getByRole("link", { name: "My AI Stack" }).click();
  await expect(page.getByRole("link", { name: "Lint Fixer" })).toBeVisible();
  const clone = cloneFiles(token);
  expect(clone.files).toContain(`plugins/store-bundle/skills/lint-fixer-by-${owner}/SKILL.md`);
  await page.getByRole("button", { name: "Uninstall Lint Fixer" }).click();
  await expect(page.getByText("Nothing from the Store yet.")).toBeVisible();
  expect(cloneFiles(token).files.some((f) => f.includes("lint-fixer"))).toBe(false);
});

test("My AI Stack: opting out removes a plugin from the next clone; required is locked", async ({ page }) => {
  const slug = uniq("stack");
  await importMarketplace(slug, ["formatter", "guard"]);
  const member = uniq("switcher");
  const token = await newUser(member);
  const group = uniq("team");
  await newGroup(group, [member]);
  await admin("PUT", `/api/admin/groups/${group}/grants/${slug}/formatter`, { requirement: "available" }, 204);
  await admin("PUT", `/api/admin/groups/${group}/grants/${slug}/guard`, { requirement: "required" }, 204);
  expect(cloneFiles(token).files).toContain(`plugins/${slug}-formatter/commands/formatter.md`);
  await signIn(page, token);
  await page.goto(`${base()}/my-ai-stack`);
  const formatter = page.getByRole("switch", { name: "formatter" });
  const guard = page.getByRole("switch", { name: "guard" });
  await expect(formatter).toBeChecked();
  await expect(guard).toBeChecked();
  await expect(guard).toBeDisabled();
  await expect(page.getByText("Required by your organisation")).toBeVisible();
  await checkPage(page, "my-ai-stack");
  await formatter.click();
  await expect(page.getByText("Switched off by you.")).toBeVisible();
  await expect(formatter).not.toBeChecked();
  let files = cloneFiles(token).files;
  expect(files.some((f) => f.startsWith(`plugins/${slug}-formatter/`))).toBe(false);
  expect(files).toContain(`plugins/${slug}-guard/commands/guard.md`);
  // Keyboard: focus the switch and press Space to switch it back on.
  await formatter.focus();
  await page.keyboard.press("Space");
  await expect(formatter).toBeChecked();
  await expect(page.getByText("In your stack.").first()).toBeVisible();
  files = cloneFiles(token).files;
  expect(files).toContain(`plugins/${slug}-formatter/commands/formatter.md`);
});

test("a token made in Connect Claude Code registers the marketplace in the real Claude Code CLI", async ({ page }) => {
  const slug = uniq("cc");
  await importMarketplace(slug, ["helper"]);
  const member = uniq("coder");
  const token = await newUser(member);
  const group = uniq("cc-team");
  await newGroup(group, [member]);
  await admin("PUT", `/api/admin/groups/${group}/grants/${slug}/helper`, { requirement: "available" }, 204);
  await signIn(page, token);
  await page.goto(`${base()}/my-ai-stack`);
  await page.getByLabel("Token name").fill("laptop");
  await page.getByLabel("Expires after (days)").fill("90");
  await page.getByRole("button", { name: "Create token" }).click();
  const line = await page.getByRole("region", { name: "New token" }).locator("pre code").nth(1).textContent();
  // The expiry asked for is the token's, and its line says so.
  await expect(page.getByRole("list", { name: "Your tokens" }).getByRole("listitem").filter({ hasText: "laptop" })).toContainText("expires");
  const laptop = (await call(token, "GET", "/api/me/tokens", undefined, 200)).tokens.find((t) => t.name === "laptop");
  expect(Math.abs(laptop.expires_at - laptop.created_at - 90 * 86400)).toBeLessThan(5);
  expect(line).toMatch(/^claude plugin marketplace add http:\/\/x:mpe_[0-9a-f]{40}@127\.0\.0\.1:\d+\/marketplace\.git$/);
  await expect(page.getByRole("button", { name: "Revoke token laptop" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Copy token" })).toBeVisible();
  // The settings.json form beside it: the registration with autoUpdate.
  const settingsText = await page.getByRole("region", { name: "New token" }).locator("pre code").nth(2).textContent();
  const panelSettings = JSON.parse(settingsText);
  const home = mkdtempSync(join(tmpdir(), "ui-claude-"));
  const claude = (args) => execFileSync(join(ROOT, "node_modules/.bin/claude"), args, {
    cwd: home, stdio: "pipe",
    env: { ...process.env, HOME: home, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", DISABLE_TELEMETRY: "1", DISABLE_AUTOUPDATER: "1", ANTHROPIC_API_KEY: "" },
  }).toString();
  claude(line.split(" ").slice(1));
  // What the real CLI wrote is the panel's entry without autoUpdate.
  const written = JSON.parse(readFileSync(join(home, ".claude/settings.json"), "utf8")).extraKnownMarketplaces;
  expect(Object.keys(written)).toEqual(["marketplace-edge"]);
  expect(panelSettings).toEqual({ extraKnownMarketplaces: { "marketplace-edge": { ...written["marketplace-edge"], autoUpdate: true } } });
  // Served names are catalog-wide: ask which name `helper` got.
  const listed = await admin("GET", `/api/admin/marketplaces/${slug}`, undefined, 200);
  const helper = listed.plugins.find((p) => p.name === "helper").served_name;
  claude(["plugin", "install", `${helper}@marketplace-edge`]);
  const installed = JSON.parse(readFileSync(join(home, ".claude/plugins/installed_plugins.json"), "utf8"));
  expect(installed.plugins[`${helper}@marketplace-edge`][0].version).toMatch(/^1\.0\.0\+[0-9a-f]{12}$/);
  // Revoked in the UI, the token stops working for git at once.
  await page.getByRole("button", { name: "Revoke token laptop" }).click();
  await expect(page.getByRole("button", { name: "Revoke token laptop" })).toHaveCount(0);
  const r = await fetch(`${base()}/marketplace/info`, { headers: { Authorization: `Bearer ${line.match(/x:(mpe_[0-9a-f]+)@/)[1]}` } });
  expect(r.status).toBe(401);
});

test("cross-site and Basic-authenticated changes are refused", async ({ page }) => {
  const member = uniq("victim");
  const token = await newUser(member);
  await signIn(page, token);
  const cookie = (await page.context().cookies()).find((c) => c.name === "mpe_session");
  const session = `mpe_session=${cookie.value}`;
  const own = base();
  const post = (headers) => fetch(`${own}/api/me/tokens`, { method: "POST", headers: { "Content-Type": "application/json", Cookie: session, ...headers }, body: JSON.stringify({ name: "evil" }) });
  let r = await post({ Origin: "https://evil.example", "X-Marketplace-Edge": "ui" });
  expect(r.status).toBe(403);
  expect((await r.json()).error.code).toBe("cross_site_request");
  r = await post({ Origin: own });
  expect(r.status).toBe(403);
  r = await post({});
  expect(r.status).toBe(403);
  // A form on another site, submitted in the browser, changes nothing.
  await page.route("http://evil.test/**", (route) => route.fulfill({
    contentType: "text/html",
    body: `<form method="post" action="${own}/api/me/tokens" enctype="text/plain"><input name='{"name":"x","y":"' value='"}'></form>`,
  }));
  await page.goto("http://evil.test/attack");
  await page.evaluate(() => document.forms[0].submit());
  await page.waitForLoadState();
  // SameSite=Lax keeps the cookie off a cross-site POST, so it is refused
  // as unauthenticated (and were it sent, the Origin check would refuse it).
  expect(await page.textContent("body")).toMatch(/"code":"(unauthorized|cross_site_request)"/);
  const { tokens } = await call(token, "GET", "/api/me/tokens", undefined, 200);
  expect(tokens.map((t) => t.name)).toEqual(["ui-test"]);
  // Credentials a browser cached for git (HTTP Basic) cannot use the API.
  const basic = `Basic ${Buffer.from(`x:${token}`).toString("base64")}`;
  r = await fetch(`${own}/api/me/tokens`, { method: "POST", headers: { Authorization: basic, "Content-Type": "application/json" }, body: "{\"name\":\"b\"}" });
  expect(r.status).toBe(401);
  expect((await r.json()).error.code).toBe("basic_auth_refused");
  // ...while git still takes them.
  r = await fetch(`${own}/marketplace/info`, { headers: { Authorization: basic } });
  expect(r.status).toBe(200);
});
