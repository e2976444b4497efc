// Admin: the audit log, newest first, filtered by actor and action through
// the URL (so a filtered page can be shared and survives a reload) and paged
// backwards with `before`.

import { api } from "../api.js";
import { h, replace, field, formatTime, titled } from "../dom.js";

/** Where a recorded target can be looked at, if anywhere. */
function targetLink(target) {
  const entity = target.match(/^(?:admin\/)?store\/entities\/(\d+)/);
  if (entity) return `/store/${entity[1]}`;
  const user = target.match(/^admin\/users\/([a-z0-9][a-z0-9-]*)/);
  if (user) return `/admin/users/${user[1]}`;
  const market = target.match(/^admin\/marketplaces\/([a-z0-9][a-z0-9_-]*)/);
  if (market) return `/admin/marketplaces/${market[1]}`;
  return null;
}

/** What a webhook or cron sync did, in words (its `detail`), if recorded. */
function outcome(detail) {
  if (!detail) return null;
  let d;
  try { d = JSON.parse(detail); } catch { return null; }
  const commit = d.upstream_commit ? ` ${d.upstream_commit.slice(0, 12)}` : "";
  const words = {
    served: `now serving upstream commit${commit}`,
    unchanged: `upstream unchanged at${commit}`,
    failed: `failed: ${d.error ? `${d.error.message} (${d.error.code})` : "unknown error"}`,
  }[d.outcome] || d.outcome;
  return h("div", { class: "hint" }, words);
}

export async function render(main, { query, navigate }) {
  const filters = { actor: query.get("actor") || "", action: query.get("action") || "" };
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v);
  if (query.get("before")) params.set("before", query.get("before"));
  const { entries, next_before: nextBefore } = await api("GET", `/api/admin/audit?${params}`);

  const actor = field("Actor", { value: filters.actor, autocomplete: "off", spellcheck: "false" }, "A username, or ADMIN_TOKEN.");
  const action = field("Action", { value: filters.action, autocomplete: "off", spellcheck: "false" },
    "An action such as store.unpublish, or its first part (grant, user, store) for all of its kind.");
  const form = h("form", {
    class: "filters", role: "search", "aria-label": "Filter the audit log",
    onsubmit: (e) => {
      e.preventDefault();
      const next = new URLSearchParams();
      if (actor.input.value.trim()) next.set("actor", actor.input.value.trim());
      if (action.input.value.trim()) next.set("action", action.input.value.trim());
      navigate(`/admin/audit${next.size ? `?${next}` : ""}`);
    },
  }, actor.el, action.el, h("div", { class: "field" }, h("button", { type: "submit" }, "Filter")));

  const older = new URLSearchParams(params);
  older.set("before", nextBefore);
  const newest = new URLSearchParams(params);
  newest.delete("before");
  const filtered = filters.actor || filters.action;
  replace(main,
    h("h1", {}, "Audit log"),
    h("p", { class: "lead" }, "Every admin change, Store publish, edit, delete and install, opt-out, token change, sign-in and sign-out, and every sync a webhook or the schedule started (actor webhook or cron, with what it did): who, what, when, and the request id to find it in the Worker's logs. Reads and refused requests are not recorded, and no secret ever is."),
    form,
    entries.length
      ? h("div", { class: "table-wrap" }, h("table", { class: "records" },
          h("caption", {}, filtered ? "Matching entries, newest first" : "Entries, newest first"),
          h("thead", {}, h("tr", {}, ["When", "Actor", "Action", "Target", "Request id"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, entries.map((e) => {
            const link = targetLink(e.target);
            return h("tr", {},
              h("td", { "data-label": "When" }, formatTime(e.at)),
              h("td", { "data-label": "Actor" }, e.actor),
              h("td", { "data-label": "Action" }, h("code", {}, e.action)),
              h("td", { "data-label": "Target" }, link ? h("a", { href: link }, e.target) : e.target, outcome(e.detail)),
              h("td", { "data-label": "Request id" }, h("code", {}, e.request_id)));
          }))))
      : h("p", { class: "empty" }, filtered ? "No entry matches these filters. Clear a filter to see more." : "Nothing recorded yet."),
    h("nav", { class: "pager", "aria-label": "Audit log pages" },
      query.get("before") ? h("a", { href: `/admin/audit${newest.size ? `?${newest}` : ""}` }, "Newest entries") : null,
      nextBefore ? h("a", { href: `/admin/audit?${older}` }, "Older entries") : null));
  titled(main, "Audit log");
}
