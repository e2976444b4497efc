// Admin: one curated marketplace: its plugins with a switch to disable each
// for everyone, its grants per group, its upstream repository, and deleting it.

import { api } from "../api.js";
import { h, replace, toast, errorBox, titled } from "../dom.js";
import { accessMatrix } from "./admin-common.js";
import { sourceForm, sourceState } from "./admin-source.js";

function pluginRow(slug, p) {
  const id = `en-${p.name}`;
  const sw = h("input", { type: "checkbox", role: "switch", id, checked: !p.admin_disabled });
  sw.addEventListener("change", async () => {
    sw.disabled = true;
    try {
      await api(sw.checked ? "DELETE" : "PUT", `/api/admin/plugins/${slug}/${p.name}/disabled`);
      toast(sw.checked ? `${p.name} is enabled again.` : `${p.name} is disabled for everyone.`);
    } catch (e) {
      sw.checked = !sw.checked;
      toast(e.message);
    } finally {
      sw.disabled = false;
    }
  });
  return h("tr", {},
    h("td", {}, h("div", { class: "switch" }, sw, h("label", { for: id }, `${p.name} enabled`))),
    h("td", {}, servedNameCell(slug, p)),
    h("td", {}, p.content_digest
      ? [p.author_version || "none", h("br"), h("span", { class: "meta" }, `content ${p.content_digest}`)]
      : p.version || "—"),
    h("td", { class: "num" }, p.external ? "external" : p.files));
}

// The name members install the plugin by, owned by it catalog-wide, and a
// form to rename it (Claude Code follows a rename: the old name keeps
// pointing here).
function servedNameCell(slug, p) {
  const name = p.served_name || p.manifest_name;
  const input = h("input", { id: `sn-${p.name}`, name: `sn-${p.name}`, value: name, required: true, spellcheck: "false", autocomplete: "off" });
  const status = h("div", { role: "status" });
  const form = h("form", { class: "inline-form", hidden: true },
    h("label", { for: `sn-${p.name}` }, `New served name for ${p.name}`),
    input,
    h("button", { type: "submit" }, "Save name"),
    h("button", { type: "button", class: "secondary", onclick: () => { form.hidden = true; } }, "Cancel"),
    status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(status);
    try {
      const r = await api("PUT", `/api/admin/plugins/${slug}/${p.name}/served-name`, { name: input.value.trim() });
      shown.textContent = r.served_name;
      form.hidden = true;
      toast(`${p.name} is served as ${r.served_name}. Members' installs follow on their next update.`);
    } catch (e) {
      replace(status, errorBox(e.message));
    }
  });
  const shown = h("strong", {}, name);
  return h("div", { class: "served-name-cell" },
    shown,
    p.past_names && p.past_names.length ? h("p", { class: "meta" }, `was ${p.past_names.join(", ")}`) : null,
    h("button", { type: "button", class: "secondary", "aria-label": `Rename ${p.name}`, onclick: () => { form.hidden = false; input.focus(); } }, "Rename"),
    form);
}

export async function render(main, { params, navigate }) {
  const slug = params[0];
  const m = await api("GET", `/api/admin/marketplaces/${slug}`);
  const reload = () => render(main, { params, navigate });
  const matrix = h("div");
  const confirmBox = h("div", { class: "confirm", hidden: true, role: "alertdialog", "aria-labelledby": "del-h" },
    h("p", { id: "del-h" }, `Delete ${slug} and all its plugins? Members stop receiving them on their next update.`),
    h("button", {
      type: "button", class: "danger",
      onclick: async () => {
        try {
          await api("DELETE", `/api/admin/marketplaces/${slug}`);
          toast(`Deleted ${slug}.`);
          navigate("/admin/marketplaces", { replace: true });
        } catch (e) { confirmBox.append(errorBox(e.message)); }
      },
    }, "Yes, delete it"),
    h("button", { type: "button", class: "secondary", onclick: () => { confirmBox.hidden = true; } }, "Cancel"));
  replace(main,
    h("p", { class: "crumbs" }, h("a", { href: "/admin/marketplaces" }, "Curated Marketplaces"), ` / ${slug}`),
    h("h1", {}, slug),
    h("section", { "aria-labelledby": "plugins-h" },
      h("h2", { id: "plugins-h" }, "Plugins"),
      h("p", { class: "hint" }, "Switching a plugin off removes it from every member's marketplace, whatever their grants. Its served name is what members install it by; it is this plugin's across all marketplaces, and a rename keeps the old name leading here."),
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Plugin"), h("th", { scope: "col" }, "Served as"), h("th", { scope: "col" }, "Version (author · content)"), h("th", { scope: "col", class: "num" }, "Files"))),
        h("tbody", {}, m.plugins.map((p) => pluginRow(slug, p)))))),
    h("section", { "aria-labelledby": "grants-h" }, h("h2", { id: "grants-h" }, "Grants"), matrix),
    h("section", { "aria-labelledby": "source-h" },
      h("h2", { id: "source-h" }, "Upstream repository"),
      m.source
        ? sourceState(slug, m.source, reload)
        : [h("p", { class: "hint" }, "This marketplace is updated by importing archives. It can follow a git repository instead, synced every 15 minutes and on push."),
           sourceForm({ fixedSlug: slug, done: reload })]),
    h("section", { "aria-labelledby": "danger-h" },
      h("h2", { id: "danger-h" }, "Delete"),
      h("button", { type: "button", class: "danger", onclick: () => { confirmBox.hidden = false; } }, `Delete ${slug}`),
      confirmBox));
  await accessMatrix(matrix, slug);
  titled(main, slug);
}
