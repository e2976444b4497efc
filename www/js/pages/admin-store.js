// Admin: Store moderation. Entities are unpublished from their own page
// (the emergency brake); this page lists the unpublished ones to restore,
// newest entry first and paged (`before` in the URL).

import { api } from "../api.js";
import { h, replace, formatTime, toast, titled } from "../dom.js";
import { typeBadge } from "./store.js";

export async function render(main, ctx) {
  const before = ctx.query.get("before");
  const { entities, next_before: nextBefore } = await api("GET", `/api/admin/store/unpublished${before ? `?before=${encodeURIComponent(before)}` : ""}`);
  const restore = (e) => h("button", {
    type: "button", class: "secondary", "aria-label": `Restore ${e.title}`,
    onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await api("DELETE", `/api/admin/store/entities/${e.id}/unpublished`);
        toast(`Restored ${e.title}: it is back in the Store and in its installers' stacks.`);
        render(main, ctx);
      } catch (err) {
        toast(err.message);
        ev.target.disabled = false;
      }
    },
  }, "Restore");
  replace(main,
    h("h1", {}, "Store moderation"),
    h("p", { class: "lead" }, "To take a skill, agent or plugin out of the Store and out of every stack at once, open it in the ",
      h("a", { href: "/store" }, "Store"), " and choose Unpublish. Its installs are kept, so restoring it here brings it back for everyone who had it."),
    entities.length
      ? h("div", { class: "table-wrap" }, h("table", { class: "records" },
          h("caption", {}, "Unpublished Store entries"),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Entry"), h("th", { scope: "col" }, "Owner"), h("th", { scope: "col" }, "Unpublished"), h("th", { scope: "col", class: "num" }, "Installs"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Action")))),
          h("tbody", {}, entities.map((e) => h("tr", {},
            h("td", {}, typeBadge(e.type), " ", h("a", { href: `/store/${e.id}` }, e.title)),
            h("td", { "data-label": "Owner" }, e.owner),
            h("td", { "data-label": "Unpublished" }, formatTime(e.unpublished_at)),
            h("td", { "data-label": "Installs", class: "num" }, String(e.installs)),
            h("td", {}, restore(e)))))))
      : h("p", { class: "empty" }, before ? "No older unpublished entries." : "Nothing is unpublished. Every Store entry is listed and served."),
    h("nav", { class: "pager", "aria-label": "Unpublished entry pages" },
      before ? h("a", { href: "/admin/store" }, "Newest entries") : null,
      nextBefore ? h("a", { href: `/admin/store?before=${nextBefore}` }, "Older entries") : null));
  titled(main, "Store moderation");
}
