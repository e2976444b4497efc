// Admin: the cached packs, newest first and paged (`before` in the URL),
// purging them, and running garbage collection.

import { api } from "../api.js";
import { h, replace, formatBytes, formatTime, toast, titled } from "../dom.js";

export async function render(main, ctx) {
  const before = ctx.query.get("before");
  const { packs, next_before: nextBefore } = await api("GET", `/api/admin/cache${before ? `?before=${encodeURIComponent(before)}` : ""}`);
  const result = h("div", { "aria-live": "polite" });
  replace(main,
    h("h1", {}, "Cache"),
    h("p", { class: "lead" }, "A view's pack is kept in R2 from its second fetch on (its first is assembled from the plugins' pack segments, which costs little); purged packs are rebuilt, identically, on the next clone."),
    h("div", { class: "actions" },
      h("button", {
        type: "button", class: "secondary",
        onclick: async () => {
          const r = await api("POST", "/api/admin/cache/purge", { all: true });
          toast(`Purged ${r.deleted} cached objects.`);
          render(main, ctx);
        },
      }, "Purge all"),
      h("button", {
        type: "button", class: "secondary",
        onclick: async () => {
          const r = await api("POST", "/api/admin/gc", {});
          replace(result, h("p", {}, `Garbage collection deleted ${r.deleted} unreferenced objects (kept ${r.kept}), ${r.deleted_packs} idle packs and ${r.deleted_segments} unused pack segments.`));
        },
      }, "Run garbage collection")),
    result,
    packs.length
      ? h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "ETag"), h("th", { scope: "col" }, "Commit"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col" }, "Created"), h("th", { scope: "col" }, "Last served"))),
          h("tbody", {}, packs.map((p) => h("tr", {},
            h("td", {}, h("code", {}, p.etag)), h("td", {}, h("code", {}, p.commit_id.slice(0, 12))),
            h("td", { class: "num" }, p.pack_size ? formatBytes(p.pack_size) : "—"),
            h("td", {}, formatTime(p.created_at)), h("td", {}, formatTime(p.last_served_at)))))))
      : h("p", { class: "empty" }, before ? "No older packs." : "No packs are cached. A view's pack is kept from its second fetch."),
    h("nav", { class: "pager", "aria-label": "Cache pages" },
      before ? h("a", { href: "/admin/cache" }, "Newest packs") : null,
      nextBefore ? h("a", { href: `/admin/cache?before=${nextBefore}` }, "Older packs") : null));
  titled(main, "Cache");
}
