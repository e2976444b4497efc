// Pieces the admin pages share: the group × plugin access matrix (used on
// its own page and, filtered to one marketplace, on the marketplace page).

import { api } from "../api.js";
import { h, replace, toast } from "../dom.js";

const LEVELS = [["", "Not granted"], ["available", "Available"], ["required", "Required"]];

/** A select that grants, changes or revokes one plugin for one group. */
function grantSelect(group, p, current) {
  const sel = h("select", { "aria-label": `${group}: ${p.marketplace}/${p.plugin}` },
    LEVELS.map(([v, t]) => h("option", { value: v }, t)));
  sel.value = current || "";
  let saved = sel.value;
  sel.addEventListener("change", async () => {
    sel.disabled = true;
    const path = `/api/admin/groups/${encodeURIComponent(group)}/grants/${encodeURIComponent(p.marketplace)}/${encodeURIComponent(p.plugin)}`;
    try {
      if (sel.value) await api("PUT", path, { requirement: sel.value });
      else await api("DELETE", path);
      saved = sel.value;
      toast(sel.value ? `${p.plugin} is ${sel.value} to ${group}.` : `${p.plugin} is no longer granted to ${group}.`);
    } catch (e) {
      sel.value = saved;
      toast(e.message);
    } finally {
      sel.disabled = false;
    }
  });
  return sel;
}

/** A select that grants or revokes all of a marketplace's plugins for a group. */
function bulkSelect(group, slug, reload) {
  const sel = h("select", { "aria-label": `${group}: all of ${slug}` },
    [["", "Set all…"], ["available", "All available"], ["required", "All required"], ["revoke", "Revoke all"]].map(([v, t]) => h("option", { value: v }, t)));
  sel.addEventListener("change", async () => {
    if (!sel.value) return;
    sel.disabled = true;
    const path = `/api/admin/groups/${encodeURIComponent(group)}/grants/${encodeURIComponent(slug)}`;
    try {
      if (sel.value === "revoke") await api("DELETE", path);
      else await api("PUT", path, { requirement: sel.value });
      toast(sel.value === "revoke" ? `Revoked every ${slug} plugin from ${group}.` : `Every ${slug} plugin is ${sel.value} to ${group}.`);
      reload();
    } catch (e) {
      toast(e.message);
      sel.disabled = false;
    }
  });
  return sel;
}

/** The access matrix: rows are plugins (by marketplace), columns groups. */
export async function accessMatrix(container, onlySlug) {
  const load = async () => {
    const m = await api("GET", "/api/admin/access");
    const plugins = m.plugins.filter((p) => !onlySlug || p.marketplace === onlySlug);
    if (!m.groups.length) {
      return replace(container, h("p", { class: "empty" }, "No groups yet. ", h("a", { href: "/admin/groups" }, "Create a group"), " first, then grant it plugins here."));
    }
    if (!plugins.length) {
      return replace(container, h("p", { class: "empty" }, "No plugins yet. ", h("a", { href: "/admin/marketplaces" }, "Import a curated marketplace"), " first."));
    }
    const grant = new Map(m.grants.map((g) => [`${g.group}\u0000${g.marketplace}\u0000${g.plugin}`, g.requirement]));
    const slugs = [...new Set(plugins.map((p) => p.marketplace))];
    const rows = [];
    for (const slug of slugs) {
      rows.push(h("tr", { class: "market-row" },
        h("th", { scope: "row" }, h("a", { href: `/admin/marketplaces/${slug}` }, slug), " (all plugins)"),
        m.groups.map((g) => h("td", {}, bulkSelect(g, slug, load)))));
      for (const p of plugins.filter((x) => x.marketplace === slug)) {
        rows.push(h("tr", {},
          h("th", { scope: "row" }, p.name, p.disabled ? h("span", { class: "hint" }, " (disabled)") : null),
          m.groups.map((g) => h("td", {}, grantSelect(g, p, grant.get(`${g}\u0000${p.marketplace}\u0000${p.plugin}`))))));
      }
    }
    replace(container, h("div", { class: "table-wrap" },
      h("table", { class: "matrix" },
        h("caption", {}, "Who is granted what. Each cell sets one group's access to one plugin."),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Plugin"), m.groups.map((g) => h("th", { scope: "col" }, g)))),
        h("tbody", {}, rows))));
  };
  await load();
}
