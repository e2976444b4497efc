// The UI's entry: who is signed in, the navigation, and a small router over
// the History API so every page has a URL that survives a reload (the
// Worker's assets answer any unknown path with index.html).

import { api } from "./api.js";
import { h, replace, errorBox } from "./dom.js";

const ROUTES = [
  [/^\/signin$/, () => import("./pages/signin.js"), { public: true }],
  [/^\/store$/, () => import("./pages/store.js")],
  [/^\/store\/new$/, () => import("./pages/upload.js")],
  [/^\/store\/(\d+)$/, () => import("./pages/detail.js")],
  [/^\/store\/(\d+)\/edit$/, () => import("./pages/edit.js")],
  [/^\/my-ai-stack$/, () => import("./pages/stack.js")],
  [/^\/admin\/users$/, () => import("./pages/admin-users.js"), { admin: true }],
  [/^\/admin\/users\/([a-z0-9][a-z0-9-]*)$/, () => import("./pages/admin-user.js"), { admin: true }],
  [/^\/admin\/groups$/, () => import("./pages/admin-groups.js"), { admin: true }],
  [/^\/admin\/marketplaces$/, () => import("./pages/admin-marketplaces.js"), { admin: true }],
  [/^\/admin\/marketplaces\/([a-z0-9][a-z0-9_-]*)$/, () => import("./pages/admin-marketplace.js"), { admin: true }],
  [/^\/admin\/access$/, () => import("./pages/admin-access.js"), { admin: true }],
  [/^\/admin\/cache$/, () => import("./pages/admin-cache.js"), { admin: true }],
  [/^\/admin\/store$/, () => import("./pages/admin-store.js"), { admin: true }],
  [/^\/admin\/review$/, () => import("./pages/admin-review.js"), { admin: true }],
  [/^\/admin\/audit$/, () => import("./pages/admin-audit.js"), { admin: true }],
];

// `via` is how the user signed in: "session" (a token on the sign-in page)
// or "access" (Cloudflare Access, which also owns sign-out).
const state = { user: null, via: null, accessError: null };

/** Navigates to `url` inside the UI (adds a history entry unless `replace`). */
function navigate(url, { replace: rep = false } = {}) {
  if (rep) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

/** Forgets the signed-in user (after sign-out or a 401) and shows sign-in. */
function signedOut() {
  state.user = null;
  const next = location.pathname === "/signin" ? "" : `?next=${encodeURIComponent(location.pathname + location.search)}`;
  navigate(`/signin${next}`, { replace: true });
}

/** Records the user who just signed in. */
function signedIn(user) {
  state.user = user;
  state.via = "session";
}

function renderNav() {
  const nav = document.getElementById("nav");
  const u = state.user;
  if (!u) return replace(nav);
  // The current page's link is the longest nav link the path starts with.
  const here = location.pathname;
  const hrefs = ["/store", "/store/new", "/my-ai-stack", "/admin/users", "/admin/groups", "/admin/marketplaces", "/admin/access", "/admin/cache", "/admin/store", "/admin/review", "/admin/audit"];
  const current = hrefs.filter((x) => here === x || here.startsWith(`${x}/`)).sort((a, b) => b.length - a.length)[0];
  const link = (href, text) => h("a", { href, "aria-current": href === current ? "page" : null }, text);
  // The review queue's link says how many versions wait (filled in when
  // the count answers; the link works before that).
  const reviewLink = link("/admin/review", "Review");
  if (u.admin) {
    api("GET", "/api/admin/review/count").then(({ waiting }) => {
      if (waiting) reviewLink.textContent = `Review (${waiting} waiting)`;
    }).catch(() => { /* the page itself says what went wrong */ });
  }
  const adminMenu = u.admin
    ? h("details", { class: "menu" },
        h("summary", {}, "Admin"),
        h("div", { class: "menu-items" },
          link("/admin/users", "Users"),
          link("/admin/groups", "Groups"),
          link("/admin/marketplaces", "Curated Marketplaces"),
          link("/admin/access", "Access matrix"),
          link("/admin/cache", "Cache"),
          link("/admin/store", "Store moderation"),
          reviewLink,
          link("/admin/audit", "Audit log")))
    : null;
  replace(nav,
    h("ul", {},
      h("li", {}, link("/store", "Store")),
      h("li", {}, link("/store/new", "Upload")),
      h("li", {}, link("/my-ai-stack", "My AI Stack")),
      adminMenu ? h("li", {}, adminMenu) : null,
      h("li", { class: "who" },
        h("span", { class: "username" }, u.username),
        state.via === "access"
          ? h("a", { href: "/cdn-cgi/access/logout", "data-external": "" }, "Sign out")
          : h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"))));
}

async function signOut() {
  try { await api("DELETE", "/api/session"); } catch { /* signed out anyway */ }
  state.user = null;
  navigate("/signin", { replace: true });
}

async function render() {
  const main = document.getElementById("main");
  let path = location.pathname.replace(/\/+$/, "") || "/";
  if (path === "/" || path === "/admin") {
    path = path === "/" ? "/store" : "/admin/users";
    history.replaceState(null, "", path);
  }
  const route = ROUTES.find(([re]) => re.test(path));
  if (!route) {
    renderNav();
    return replace(main, h("h1", {}, "Page not found"),
      h("p", {}, "There is nothing at this address. ", h("a", { href: "/store" }, "Go to the Store"), "."));
  }
  const [re, load, opts = {}] = route;
  if (!opts.public && !state.user) return signedOut();
  if (opts.admin && !state.user.admin) {
    renderNav();
    return replace(main, h("h1", {}, "Admins only"), h("p", {}, "This page is for admins. Ask one if you need access."));
  }
  renderNav();
  const params = path.match(re).slice(1).map(decodeURIComponent);
  const query = new URLSearchParams(location.search);
  try {
    const page = await load();
    // What a page may use of the app: the router, and for sign-in, how
    // to record the user and why Cloudflare Access refused them (passed,
    // not imported, so no page imports the app that loads it).
    await page.render(main, { user: state.user, params, query, navigate, signedIn, accessError: state.accessError });
  } catch (e) {
    if (e.status === 401) return signedOut();
    replace(main, h("h1", {}, "Something went wrong"), errorBox(e.message));
  }
  document.querySelectorAll("details.menu[open]").forEach((d) => d.removeAttribute("open"));
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[href]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || a.target || a.hasAttribute("download") || a.dataset.external !== undefined) return;
  if (/^\/(api|marketplace)/.test(url.pathname)) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", render);

(async function start() {
  try {
    ({ user: state.user, via: state.via } = await api("GET", "/api/session"));
  } catch (e) {
    state.user = null;
    if (e.code && e.code.startsWith("access_")) state.accessError = e.message;
  }
  render();
})();
