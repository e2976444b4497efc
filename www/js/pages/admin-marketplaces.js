// Admin: the curated marketplaces, importing one from an archive, and
// following a git repository as a new one.

import { api } from "../api.js";
import { h, replace, field, errorBox, formatTime, titled } from "../dom.js";
import { sourceForm } from "./admin-source.js";

export async function render(main, { navigate }) {
  const { marketplaces } = await api("GET", "/api/admin/marketplaces");
  const slug = field("Marketplace name", { required: true, pattern: "[a-z0-9][a-z0-9_-]{0,63}", autocomplete: "off", spellcheck: "false" },
    "Lowercase letters, digits, dashes and underscores. Importing onto an existing name replaces its plugins and keeps their grants.");
  const archive = field("Archive", { type: "file", required: true, accept: ".zip,.tar.gz,.tgz,application/zip,application/gzip" },
    "A .zip or .tar.gz of the marketplace repository, with .claude-plugin/marketplace.json at its root or under one top folder.");
  const status = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, "Import");
  const form = h("form", {
    class: "card",
    onsubmit: async (e) => {
      e.preventDefault();
      const file = archive.input.files[0];
      if (!file) return;
      submit.disabled = true;
      replace(status, h("p", {}, "Importing…"));
      try {
        const r = await api("PUT", `/api/admin/marketplaces/${encodeURIComponent(slug.input.value.trim())}`, file);
        navigate(`/admin/marketplaces/${r.slug}`);
      } catch (err) {
        replace(status, errorBox(`The import was refused and nothing changed. ${err.message}`));
        submit.disabled = false;
      }
    },
  }, h("h2", {}, "Import an archive"), slug.el, archive.el, status, submit);
  replace(main,
    h("h1", {}, "Curated Marketplaces"),
    h("p", { class: "lead" }, "Marketplaces your platform team curates. Their plugins reach members through grants to groups."),
    marketplaces.length
      ? h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Title"), h("th", { scope: "col", class: "num" }, "Plugins"), h("th", { scope: "col" }, "Imported"))),
          h("tbody", {}, marketplaces.map((m) => h("tr", {},
            h("td", {}, h("a", { href: `/admin/marketplaces/${m.slug}` }, m.slug)),
            h("td", {}, m.name),
            h("td", { class: "num" }, m.plugins),
            h("td", {}, formatTime(m.imported_at)))))))
      : h("p", { class: "empty" }, "No curated marketplace yet. Import one below, or follow a git repository."),
    form,
    sourceForm({ done: (name) => navigate(`/admin/marketplaces/${name}`) }));
  titled(main, "Curated Marketplaces");
}
