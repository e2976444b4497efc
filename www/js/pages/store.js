// The Store: cards with filters, search and pagination, all kept in the URL
// so a view can be shared and the back button works.

import { api } from "../api.js";
import { h, replace, select, errorBox, toast, titled } from "../dom.js";
import { badges } from "../scan.js";

const PER_PAGE = 12;
const TYPES = [["", "All types"], ["skill", "Skills"], ["agent", "Agents"], ["plugin", "Plugins"]];
const SORTS = [["newest", "Newest"], ["installs", "Most installed"], ["rating", "Best rated"]];

/** "3 installs", with this month's when there are some. */
export function installsText(e) {
  const all = `${e.installs} install${e.installs === 1 ? "" : "s"}`;
  return e.installs_30d ? `${all} (${e.installs_30d} in 30 days)` : all;
}

/** Thumbs up and down, in words for screen readers. */
export function ratingText(e) {
  const up = e.rating_up || 0;
  const down = e.rating_down || 0;
  return h("span", { class: "rating", title: `${up} up, ${down} down` },
    h("span", { "aria-hidden": "true" }, `▲ ${up} · ▼ ${down}`),
    h("span", { class: "visually-hidden" }, `${up} thumbs up, ${down} thumbs down`));
}

/** What its owner sees of an entry not served yet (or refused). */
export function statusBadge(e) {
  if (e.status === "pending") return h("span", { class: "badge badge-pending" }, "waiting for review");
  if (e.status === "rejected") return h("span", { class: "badge badge-rejected" }, "not approved");
  return null;
}

/** The type badge of an entity. */
export function typeBadge(type) {
  return h("span", { class: `badge badge-${type}` }, type);
}

/** An Install / Uninstall button that reflects and flips the viewer's state. */
export function installButton(entity, installed, onChange) {
  const btn = h("button", { type: "button" });
  const paint = () => {
    btn.textContent = installed ? "Uninstall" : "Install";
    btn.className = installed ? "secondary" : "";
    btn.setAttribute("aria-label", `${installed ? "Uninstall" : "Install"} ${entity.title}`);
  };
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    try {
      await api(installed ? "DELETE" : "POST", `/api/store/entities/${entity.id}/install`);
      installed = !installed;
      toast(installed ? `Installed ${entity.title}. It is in your next clone.` : `Uninstalled ${entity.title}.`);
      paint();
      onChange?.(installed);
    } catch (e) {
      toast(e.message);
    } finally {
      btn.disabled = false;
    }
  });
  paint();
  return btn;
}

/** The ids of the viewer's Store installs. */
export async function installedIds() {
  const stack = await api("GET", "/api/me/stack");
  return new Set(stack.store_installs.map((e) => e.id));
}

function card(e, user, installed) {
  const count = h("span", { class: "installs" }, installsText(e));
  const served = e.status === "approved";
  return h("li", { class: "card entity" },
    e.photo_url
      ? h("img", { src: e.photo_url, alt: "", loading: "lazy", class: "photo" })
      : h("div", { class: `photo placeholder badge-${e.type}`, "aria-hidden": "true" }, e.type[0].toUpperCase()),
    h("div", { class: "body" },
      h("h2", {}, h("a", { href: `/store/${e.id}` }, e.title)),
      h("p", { class: "tagline" }, e.tagline),
      h("p", { class: "meta" },
        typeBadge(e.type), " ",
        h("span", { class: "category" }, e.category), " · by ",
        h("a", { href: `/store?owner=${encodeURIComponent(e.owner)}` }, e.owner),
        e.owner === user.username ? h("span", { class: "yours" }, "yours") : null,
        " ", statusBadge(e)),
      h("p", { class: "meta signals" }, count, " · ", ratingText(e)),
      e.badges && e.badges.length ? h("p", { class: "caps" }, badges(e.badges)) : null),
    // Only what is served can be installed.
    served
      ? h("div", { class: "actions" },
          installButton(e, installed, (now) => {
            e.installs += now ? 1 : -1;
            e.installs_30d = Math.max(0, (e.installs_30d || 0) + (now ? 1 : -1));
            count.textContent = installsText(e);
          }))
      : null);
}

export async function render(main, { user, query, navigate }) {
  const params = {
    type: query.get("type") || "",
    category: query.get("category") || "",
    owner: query.get("owner") || "",
    q: query.get("q") || "",
    sort: SORTS.some(([v]) => v === query.get("sort")) ? query.get("sort") : "newest",
    page: Math.max(1, parseInt(query.get("page") || "1", 10) || 1),
  };
  const go = (changes) => {
    const next = { ...params, page: 1, ...changes };
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v && !(k === "page" && v === 1) && !(k === "sort" && v === "newest")) qs.set(k, v);
    navigate(`/store${qs.toString() ? `?${qs}` : ""}`);
  };
  const listQuery = new URLSearchParams({ per_page: PER_PAGE, page: params.page });
  for (const k of ["type", "category", "owner", "q", "sort"]) if (params[k]) listQuery.set(k, params[k]);
  const [list, facets, installed] = await Promise.all([
    api("GET", `/api/store/entities?${listQuery}`),
    api("GET", "/api/store/facets"),
    installedIds(),
  ]);

  const type = select("Type", TYPES);
  type.input.value = params.type;
  type.input.addEventListener("change", () => go({ type: type.input.value }));
  const category = select("Category", [["", "All categories"], ...facets.categories.map((c) => [c, c])]);
  category.input.value = params.category;
  category.input.addEventListener("change", () => go({ category: category.input.value }));
  const owners = facets.owners.includes(params.owner) || !params.owner ? facets.owners : [...facets.owners, params.owner];
  const owner = select("Owner", [["", "Everyone"], ...owners.map((o) => [o, o === user.username ? `${o} (you)` : o])]);
  owner.input.value = params.owner;
  owner.input.addEventListener("change", () => go({ owner: owner.input.value }));
  const sort = select("Sort by", SORTS);
  sort.input.value = params.sort;
  sort.input.addEventListener("change", () => go({ sort: sort.input.value }));
  const search = h("input", { type: "search", id: "store-search", name: "q", value: params.q });
  const filters = h("form", {
    class: "filters", role: "search",
    onsubmit: (e) => { e.preventDefault(); go({ q: search.value.trim() }); },
  },
  h("div", { class: "field grow" }, h("label", { for: "store-search" }, "Search"), search),
  type.el, category.el, owner.el, sort.el,
  h("div", { class: "field" }, h("span", { class: "spacer", "aria-hidden": "true" }, " "), h("button", { type: "submit" }, "Search")));

  const filtered = params.type || params.category || params.owner || params.q;
  let results;
  if (list.total === 0 && !filtered) {
    results = h("div", { class: "empty" },
      h("p", {}, "The Store is empty so far."),
      h("p", {}, h("a", { href: "/store/new", class: "button" }, "Upload the first skill, agent or plugin")));
  } else if (list.entities.length === 0) {
    results = h("div", { class: "empty" },
      h("p", {}, "Nothing matches these filters."),
      h("p", {}, "Try other words, or ", h("a", { href: "/store" }, "clear the filters"), "."));
  } else {
    results = h("ul", { class: "cards", "aria-label": "Store entries" },
      list.entities.map((e) => card(e, user, installed.has(e.id))));
  }
  const pages = Math.max(1, Math.ceil(list.total / list.per_page));
  const pageLink = (p, text) => {
    const qs = new URLSearchParams(location.search);
    if (p === 1) qs.delete("page"); else qs.set("page", p);
    return h("a", { href: `/store${qs.toString() ? `?${qs}` : ""}`, rel: p > params.page ? "next" : "prev" }, text);
  };
  const pager = pages > 1
    ? h("nav", { class: "pager", "aria-label": "Pages" },
        params.page > 1 ? pageLink(params.page - 1, "Previous page") : null,
        h("span", {}, `Page ${params.page} of ${pages}`),
        params.page < pages ? pageLink(params.page + 1, "Next page") : null)
    : null;

  replace(main,
    h("div", { class: "page-head" },
      h("h1", {}, "Store"),
      h("a", { href: "/store/new", class: "button" }, "Upload")),
    h("p", { class: "lead" }, "Skills, agents and plugins published by people in your organisation. Install one and it is in your marketplace on the next clone or update."),
    filters,
    h("p", { class: "count", role: "status" }, `${list.total} ${list.total === 1 ? "entry" : "entries"}`),
    results,
    pager);
  titled(main, "Store");
}
