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
    h("td", {}, p.manifest_name),
    h("td", {}, p.version || "—"),
    h("td", { class: "num" }, p.external ? "external" : p.files));
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
      h("p", { class: "hint" }, "Switching a plugin off removes it from every member's marketplace, whatever their grants."),
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Plugin"), h("th", { scope: "col" }, "Served as"), h("th", { scope: "col" }, "Version"), h("th", { scope: "col", class: "num" }, "Files"))),
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
