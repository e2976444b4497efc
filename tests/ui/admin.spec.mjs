// Admins in the browser: importing a curated marketplace, granting through
// the access matrix (one plugin and a whole marketplace), disabling a
// plugin, users and tokens (offboarding: disable, expiry, delete),
// effective access, groups and the cache; the audit log's pages; and a
// member who never sees any of it.
import { test, expect } from "@playwright/test";
import {
  base, uniq, admin, call, newUser, newGroup, importMarketplace, marketplaceZip, publish, signIn, cloneFiles, checkPage,
  gitUpstream, marketplaceFiles,
} from "./helpers.mjs";
import { UI_HOOK_SECRET } from "./server.mjs";

test("an admin imports an archive and grants a plugin; the member then receives it", async ({ page }) => {
  const boss = uniq("boss");
  await signIn(page, await newUser(boss, { isAdmin: true }));
  const member = uniq("dev");
  const memberToken = await newUser(member);
  const group = uniq("eng");
  await newGroup(group, [member]);
  const slug = uniq("tools");

  await page.getByText("Admin", { exact: true }).click();
  await page.getByRole("link", { name: "Curated Marketplaces" }).click();
  await expect(page.getByRole("heading", { name: "Curated Marketplaces" })).toBeVisible();
  // A file that is no archive is refused in words, and nothing changes.
  await page.getByLabel("Marketplace name").fill(slug);
  await page.getByLabel("Archive").setInputFiles({ name: "notes.zip", mimeType: "application/zip", buffer: Buffer.from("not a zip at all") });
  await page.getByRole("button", { name: "Import" }).click();
  await expect(page.getByRole("alert")).toContainText("The import was refused and nothing changed.");
  await expect(page.getByRole("alert")).toContainText("not a ZIP");
  await checkPage(page, "admin-marketplaces");
  await page.getByLabel("Archive").setInputFiles({ name: "tools.zip", mimeType: "application/zip", buffer: marketplaceZip(slug, ["deployer", "auditor"]) });
  await page.getByRole("button", { name: "Import" }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/marketplaces/${slug}$`));
  await expect(page.getByRole("switch", { name: "deployer enabled" })).toBeChecked();
  await page.getByLabel(`${group}: ${slug}/deployer`).selectOption("available");
  await expect(page.getByText(`deployer is available to ${group}.`)).toBeVisible();
  await checkPage(page, "admin-marketplace");
  let files = cloneFiles(memberToken).files;
  expect(files).toContain(`plugins/${slug}-deployer/commands/deployer.md`);
  expect(files.some((f) => f.includes("auditor"))).toBe(false);
  // Disabled for everyone, it leaves the member's next clone.
  await page.getByRole("switch", { name: "deployer enabled" }).click();
  await expect(page.getByText("deployer is disabled for everyone.")).toBeVisible();
  files = cloneFiles(memberToken).files;
  expect(files.some((f) => f.includes("deployer"))).toBe(false);
});

test("the access matrix grants a whole marketplace; effective access explains each plugin", async ({ page }) => {
  const boss = uniq("chief");
  await signIn(page, await newUser(boss, { isAdmin: true }));
  const slug = uniq("suite");
  await importMarketplace(slug, ["alpha", "beta", "gamma"]);
  const member = uniq("ana");
  const token = await newUser(member);
  const [g1, g2] = [uniq("core"), uniq("web")];
  await newGroup(g1, [member]);
  await newGroup(g2, [member]);

  await page.goto(`${base()}/admin/access`);
  await page.getByLabel(`${g1}: all of ${slug}`).selectOption("available");
  await expect(page.getByLabel(`${g1}: ${slug}/gamma`)).toHaveValue("available");
  await page.getByLabel(`${g2}: ${slug}/alpha`).selectOption("required");
  await expect(page.getByText(`alpha is required to ${g2}.`)).toBeVisible();
  await checkPage(page, "admin-access");
  expect(cloneFiles(token).files.filter((f) => f.endsWith("plugin.json")).length).toBe(3);

  // The member opts out of beta; an admin disables gamma; a Store install.
  await call(token, "PUT", `/api/me/optouts/${slug}/beta`, undefined, 204);
  await admin("PUT", `/api/admin/plugins/${slug}/gamma/disabled`, undefined, 204);
  const maker = await newUser(uniq("maker"));
  const e = await publish(maker, { name: "notes-skill", title: "Notes Skill" });
  await call(token, "POST", `/api/store/entities/${e.id}/install`, undefined, 204);

  await page.getByText("Admin", { exact: true }).click();
  await page.getByRole("link", { name: "Users" }).click();
  await page.getByRole("link", { name: member }).click();
  await expect(page.getByRole("heading", { name: member })).toBeVisible();
  const row = (name) => page.getByRole("row").filter({ has: page.getByRole("cell", { name: new RegExp(`^${name}`) }) });
  await expect(row("alpha")).toContainText(`Granted through ${g1} (available), ${g2} (required).`);
  await expect(row("beta")).toContainText("Not served: the user switched it off.");
  await expect(row("gamma")).toContainText("Not served: disabled by an admin.");
  await expect(page.getByText("installed by the user from the Store")).toBeVisible();
  await checkPage(page, "admin-user");

  // Revoking the whole marketplace from one group leaves the other's grant.
  await page.goto(`${base()}/admin/access`);
  await page.getByLabel(`${g1}: all of ${slug}`).selectOption("revoke");
  await expect(page.getByLabel(`${g1}: ${slug}/alpha`)).toHaveValue("");
  await expect(page.getByLabel(`${g2}: ${slug}/alpha`)).toHaveValue("required");
  const files = cloneFiles(token).files;
  expect(files).toContain(`plugins/${slug}-alpha/commands/alpha.md`);
  expect(files.some((f) => f.includes(`${slug}-beta`))).toBe(false);
});

test("an admin renames a plugin's served name; the old name leads to the new one", async ({ page }) => {
  await signIn(page, await newUser(uniq("namer"), { isAdmin: true }));
  const slug = uniq("names");
  const tool = uniq("tool");
  const other = uniq("other");
  await importMarketplace(slug, [tool, other]);
  const member = uniq("nina");
  const token = await newUser(member);
  const group = uniq("names-g");
  await newGroup(group, [member]);
  await admin("PUT", `/api/admin/groups/${group}/grants/${slug}/${tool}`, { requirement: "available" }, 204);

  await page.goto(`${base()}/admin/marketplaces/${slug}`);
  const row = page.getByRole("row").filter({ hasText: `${tool} enabled` });
  await expect(row).toContainText("content ");
  await row.getByRole("button", { name: `Rename ${tool}` }).click();
  const input = page.getByLabel(`New served name for ${tool}`);
  // A name another plugin holds is refused in words, and nothing changes.
  await input.fill(other);
  await row.getByRole("button", { name: "Save name" }).click();
  await expect(row.getByRole("alert")).toContainText("choose another name");
  await input.fill(`${tool}-two`);
  await row.getByRole("button", { name: "Save name" }).click();
  await expect(page.getByText(`${tool} is served as ${tool}-two.`)).toBeVisible();
  await checkPage(page, "admin-marketplace-rename");
  await page.reload();
  await expect(row).toContainText(`was ${tool}`);
  // The member's clone carries the new name and where the old one leads.
  const manifest = JSON.parse(cloneFiles(token).read(".claude-plugin/marketplace.json"));
  expect(manifest.plugins.map((p) => p.name)).toEqual([`${tool}-two`]);
  expect(manifest.renames).toEqual({ [tool]: `${tool}-two` });
  expect(manifest.forceRemoveDeletedPlugins).toBe(true);
});

test("users, tokens and groups from the admin pages", async ({ page }) => {
  await signIn(page, await newUser(uniq("root"), { isAdmin: true }));
  const name = uniq("newbie");
  // The Admin menu works from the keyboard.
  await page.getByText("Admin", { exact: true }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("link", { name: "Curated Marketplaces" })).toBeVisible();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Users" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/admin\/users$/);
  await expect(page.getByRole("heading", { name: "Users" })).toBeVisible();
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Email").fill(`${name}@example.com`);
  await page.getByRole("button", { name: "Create user" }).click();
  await expect(page.getByRole("heading", { name })).toBeVisible();
  await page.getByLabel("Token name").fill("onboarding");
  await page.getByRole("button", { name: "Create token" }).click();
  const token = await page.getByRole("region", { name: "New token" }).locator("pre code").textContent();
  expect((await call(token, "GET", "/api/me/stack", undefined, 200)).user).toBe(name);
  await page.getByRole("button", { name: "Revoke token onboarding" }).click();
  await expect(page.getByText(/revoked/)).toBeVisible();
  await call(token, "GET", "/api/me/stack", undefined, 401);
  // Made an admin with the switch.
  await page.getByRole("switch", { name: "Admin" }).click();
  await expect(page.getByText(`${name} is now an admin.`)).toBeVisible();
  expect((await admin("GET", `/api/admin/users/${name}`, undefined, 200)).user.admin).toBe(true);
  await page.goto(`${base()}/admin/users`);
  await checkPage(page, "admin-users");

  const group = uniq("ops");
  await page.goto(`${base()}/admin/groups`);
  await page.getByLabel("Group name").fill(group);
  await page.getByRole("button", { name: "Create group" }).click();
  await expect(page.getByRole("heading", { name: group })).toBeVisible();
  await page.getByLabel(`User to add to ${group}`).fill(name);
  await page.getByRole("button", { name: `Add to ${group}` }).click();
  await expect(page.getByRole("list", { name: `Members of ${group}` })).toContainText(name);
  await checkPage(page, "admin-groups");
  await page.getByRole("button", { name: `Remove ${name} from ${group}` }).click();
  await expect(page.getByRole("list", { name: `Members of ${group}` })).toContainText("No members yet.");

  await page.goto(`${base()}/admin/cache`);
  await page.getByRole("button", { name: "Run garbage collection" }).click();
  await expect(page.getByText(/Garbage collection deleted \d+ unreferenced objects/)).toBeVisible();
  await checkPage(page, "admin-cache");
});

test("a member never sees the admin navigation and gets 403 from its API", async ({ page }) => {
  await signIn(page, await newUser(uniq("plain")));
  await expect(page.getByText("Admin", { exact: true })).toHaveCount(0);
  await page.goto(`${base()}/admin/users`);
  await expect(page.getByRole("heading", { name: "Admins only" })).toBeVisible();
  await checkPage(page, "admins-only");
  const r = await page.request.get(`${base()}/api/admin/users`);
  expect(r.status()).toBe(403);
});

test("an admin makes a marketplace follow a git repository, syncs it and stops following", async ({ page }) => {
  const upstream = await gitUpstream(marketplaceFiles("upstream", ["deployer"]));
  try {
    await signIn(page, await newUser(uniq("boss"), { isAdmin: true }));
    const slug = uniq("followed");
    await page.goto(`${base()}/admin/marketplaces`);
    await page.getByLabel("Name of the new marketplace").fill(slug);
    await page.getByLabel("Repository URL").fill(upstream.url);
    await page.getByRole("button", { name: "Follow and sync" }).click();
    await expect(page).toHaveURL(new RegExp(`/admin/marketplaces/${slug}$`));
    await expect(page.getByRole("switch", { name: "deployer enabled" })).toBeChecked();
    const source = page.getByRole("region", { name: "Upstream repository" });
    await expect(source).toContainText(upstream.url);
    await expect(source).toContainText(upstream.head().slice(0, 12));
    await checkPage(page, "admin-source");

    // A new upstream commit arrives with "Sync now".
    const next = upstream.commit(marketplaceFiles("upstream", ["deployer", "auditor"]));
    await source.getByRole("button", { name: "Sync now" }).click();
    await expect(page.getByText(`${slug} is in sync with its repository.`)).toBeVisible();
    await expect(page.getByRole("switch", { name: "auditor enabled" })).toBeChecked();
    await expect(page.getByRole("region", { name: "Upstream repository" })).toContainText(next.slice(0, 12));

    // A push webhook syncs too; the audit log says what it did, in words.
    await admin("PUT", `/api/admin/marketplaces/${slug}/source`, { url: upstream.url, webhook_secret: "UPSTREAM_UI_HOOK" }, 200);
    const hook = await fetch(`${base()}/api/hooks/${slug}`, { method: "POST", headers: { "X-Gitlab-Token": UI_HOOK_SECRET }, body: "{}" });
    expect(hook.status).toBe(202);
    await expect.poll(async () => (await admin("GET", `/api/admin/audit?actor=webhook&action=source.sync`, undefined, 200)).entries
      .filter((e) => e.target === `admin/marketplaces/${slug}/sync`).length).toBe(1);
    await page.goto(`${base()}/admin/audit?actor=webhook`);
    await expect(page.getByRole("table").locator("tbody tr").first()).toContainText(`now serving upstream commit ${next.slice(0, 12)}`);
    await page.goto(`${base()}/admin/marketplaces/${slug}`);

    // An upstream the Worker refuses: the error in words, the old content kept.
    upstream.commit({ "README.md": "no manifest here\n" });
    await page.getByRole("region", { name: "Upstream repository" }).getByRole("button", { name: "Sync now" }).click();
    await expect(page.getByRole("alert")).toContainText("marketplace.json");
    await page.reload();
    await expect(page.getByRole("region", { name: "Upstream repository" })).toContainText("The last sync failed and the previous content is still served");
    await expect(page.getByRole("switch", { name: "auditor enabled" })).toBeChecked();

    // Stop following: archive imports work again.
    await page.getByRole("region", { name: "Upstream repository" }).getByRole("button", { name: "Stop following" }).click();
    await expect(page.getByRole("button", { name: "Follow and sync" })).toBeVisible();
    await admin("PUT", `/api/admin/marketplaces/${slug}`, new Uint8Array(marketplaceZip(slug, ["deployer"])), 200);
  } finally {
    upstream.close();
  }
});

test("an admin offboards a user: disables them, sees their tokens' use and expiry, and deletes them", async ({ page }) => {
  const boss = uniq("boss");
  await signIn(page, await newUser(boss, { isAdmin: true }));
  const name = uniq("leaver");
  const token = await newUser(name);
  await call(token, "GET", "/api/me/stack", undefined, 200);
  await page.goto(`${base()}/admin/users/${name}`);
  await expect(page.getByRole("heading", { name })).toBeVisible();
  const tokens = page.getByRole("list", { name: `Tokens of ${name}` });
  // Its last use is recorded after the response.
  await expect(async () => {
    await page.reload();
    await expect(tokens).toContainText("last used", { timeout: 1000 });
  }).toPass();
  await page.getByLabel("Token name").fill("laptop");
  await page.getByLabel("Expires after (days)").fill("30");
  await page.getByRole("button", { name: "Create token" }).click();
  await expect(page.getByRole("region", { name: "New token" })).toBeVisible();
  await expect(tokens).toContainText("expires");

  await page.getByRole("switch", { name: "Disabled" }).click();
  await expect(page.getByText(`${name} is disabled`)).toBeVisible();
  await call(token, "GET", "/api/me/stack", undefined, 401);
  await checkPage(page, "admin-user");
  await page.getByRole("switch", { name: "Disabled" }).click();
  await expect(page.getByText(`${name} is enabled again.`)).toBeVisible();
  await call(token, "GET", "/api/me/stack", undefined, 200);

  await page.getByRole("button", { name: "Delete user…" }).click();
  await page.getByRole("button", { name: `Delete ${name} and everything they own` }).click();
  await expect(page).toHaveURL(/\/admin\/users$/);
  await call(token, "GET", "/api/me/stack", undefined, 401);
  await admin("GET", `/api/admin/users/${name}`, undefined, 404);
});

test("an admin unpublishes a Store entry from its page, finds it in the audit log and restores it", async ({ page }) => {
  const author = uniq("author");
  const authorToken = await newUser(author);
  const skill = await publish(authorToken, { name: uniq("brake"), title: uniq("Risky hook") });
  const member = uniq("fan");
  const memberToken = await newUser(member);
  await call(memberToken, "POST", `/api/store/entities/${skill.id}/install`, undefined, 204);
  const inStack = async () => (await call(memberToken, "GET", "/api/me/stack", undefined, 200)).store_installs.some((e) => e.id === skill.id);
  expect(await inStack()).toBe(true);

  const boss = uniq("mod");
  await signIn(page, await newUser(boss, { isAdmin: true }));
  await page.goto(`${base()}/store/${skill.id}`);
  await page.getByRole("button", { name: "Unpublish…" }).click();
  await expect(page.getByRole("alertdialog")).toContainText("Installs are kept");
  await page.getByRole("button", { name: "Yes, unpublish it" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Unpublished by an admin" })).toBeVisible();
  // Gone for the member at once: from their stack, the listing and its page.
  expect(await inStack()).toBe(false);
  const listed = await call(memberToken, "GET", `/api/store/entities?q=${encodeURIComponent(skill.title)}`, undefined, 200);
  expect(listed.entities.map((e) => e.id)).not.toContain(skill.id);
  await call(memberToken, "GET", `/api/store/entities/${skill.id}`, undefined, 404);
  await checkPage(page, "store-unpublished");

  // The audit log, filtered through the form (and so the URL).
  await page.getByText("Admin", { exact: true }).click();
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.getByLabel("Actor").fill(boss);
  await page.getByLabel("Action").fill("store");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/audit\\?actor=${boss}&action=store$`));
  const rows = page.getByRole("table").locator("tbody tr");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("store.unpublish");
  await expect(rows.first()).toContainText(`admin/store/entities/${skill.id}/unpublished`);
  await checkPage(page, "admin-audit");
  await page.reload();
  await expect(rows).toHaveCount(1);
  await page.getByLabel("Action").fill("grant");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.getByText("No entry matches these filters.")).toBeVisible();

  // Restored from Store moderation: back in the member's stack.
  await page.getByText("Admin", { exact: true }).click();
  await page.getByRole("link", { name: "Store moderation" }).click();
  await expect(page.getByRole("link", { name: skill.title })).toBeVisible();
  await checkPage(page, "admin-store");
  await page.getByRole("button", { name: `Restore ${skill.title}` }).click();
  await expect(page.getByRole("link", { name: skill.title })).toHaveCount(0);
  expect(await inStack()).toBe(true);
  const restored = (await admin("GET", `/api/admin/audit?actor=${boss}&action=store.restore`, undefined, 200)).entries;
  expect(restored.map((e) => e.target)).toEqual([`admin/store/entities/${skill.id}/unpublished`]);
});

test("the audit log pages back to older entries and returns to the newest", async ({ page }) => {
  // 53 entries by one member: a page of 50 and an older page of 3.
  const busy = uniq("busy");
  const busyToken = await newUser(busy);
  for (let i = 0; i < 53; i++) await call(busyToken, "POST", "/api/me/tokens", { name: `t${i}` }, 201);
  await signIn(page, await newUser(uniq("pager"), { isAdmin: true }));
  await page.goto(`${base()}/admin/audit?actor=${busy}`);
  const rows = page.getByRole("table").locator("tbody tr");
  await expect(rows).toHaveCount(50);
  await expect(page.getByRole("link", { name: "Newest entries" })).toHaveCount(0);
  await page.getByRole("link", { name: "Older entries" }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/audit\\?actor=${busy}&before=\\d+$`));
  await expect(rows).toHaveCount(3);
  for (const row of await rows.all()) await expect(row).toContainText("token.create");
  // The last page offers no older one; the filter survives the way back.
  await expect(page.getByRole("link", { name: "Older entries" })).toHaveCount(0);
  await page.getByRole("link", { name: "Newest entries" }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/audit\\?actor=${busy}$`));
  await expect(rows).toHaveCount(50);
});

test("the user list pages forward by name and back to the first users", async ({ page }) => {
  // At least 51 users: a page of 50 and more after it.
  const prefix = uniq("crowd");
  for (let i = 0; i < 51; i++) {
    await admin("POST", "/api/admin/users", { username: `${prefix}-${String(i).padStart(2, "0")}`, email: `${prefix}-${i}@example.com` }, 201);
  }
  await signIn(page, await newUser(uniq("lister"), { isAdmin: true }));
  await page.goto(`${base()}/admin/users`);
  const rows = page.getByRole("table").locator("tbody tr");
  await expect(rows).toHaveCount(50);
  const pager = page.getByRole("navigation", { name: "User pages" });
  await expect(pager.getByRole("link", { name: "First users" })).toHaveCount(0);
  const firstPage = await rows.allTextContents();
  await pager.getByRole("link", { name: "More users" }).click();
  await expect(page).toHaveURL(/\/admin\/users\?after=/);
  await expect(pager.getByRole("link", { name: "First users" })).toBeVisible();
  const secondPage = await rows.allTextContents();
  expect(secondPage.length).toBeGreaterThan(0);
  expect(secondPage.some((r) => firstPage.includes(r))).toBe(false);
  await checkPage(page, "admin-users-paged");
  await pager.getByRole("link", { name: "First users" }).click();
  await expect(page).toHaveURL(/\/admin\/users$/);
  await expect(rows).toHaveCount(50);
});
