// Admin: the review queue. Each Store version waiting for an admin, oldest
// first, with what it can do (its scan), what changed against the version
// installers have now, and Approve / Reject with a reason the owner sees.

import { api } from "../api.js";
import { h, replace, formatTime, formatBytes, toast, errorBox, titled } from "../dom.js";
import { badges, scanReport } from "../scan.js";
import { typeBadge } from "./store.js";

const CHANGE_WORDS = { added: "added", removed: "removed", changed: "changed" };

function changes(v) {
  if (!v.changes.length) return h("p", {}, "No file differs from the version installers have now.");
  return h("div", { class: "table-wrap" }, h("table", { class: "records" },
    h("caption", {}, v.new_entry ? "Files (a new entry: all of them are new)" : "Files changed against the version installers have now"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "File"), h("th", { scope: "col" }, "Change"), h("th", { scope: "col", class: "num" }, "Size"))),
    h("tbody", {}, v.changes.map((c) => h("tr", { class: `change-${c.change}` },
      h("td", {}, h("code", {}, c.path)),
      h("td", { "data-label": "Change" }, CHANGE_WORDS[c.change] || c.change),
      h("td", { "data-label": "Size", class: "num" }, c.change === "removed" ? "—" : formatBytes(c.size)))))));
}

function decision(v, reload) {
  const id = `reason-${v.entity_id}-${v.version}`;
  const reason = h("textarea", { id, name: id, rows: 2, maxlength: 2000 });
  const status = h("div", { role: "status" });
  const send = (choice) => async (ev) => {
    ev.target.disabled = true;
    replace(status);
    try {
      await api("POST", `/api/admin/review/${v.entity_id}/${v.version}`, { decision: choice, reason: reason.value });
      toast(choice === "approve"
        ? `Approved ${v.title} version ${v.version}: it is served from now on.`
        : `Rejected ${v.title} version ${v.version}; its owner sees your reason.`);
      reload();
    } catch (err) {
      replace(status, errorBox(err.message));
      ev.target.disabled = false;
    }
  };
  return h("div", { class: "decision" },
    h("label", { for: id }, "Reason (the owner sees it; needed to reject)"),
    reason,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: send("approve"), "aria-label": `Approve ${v.title} version ${v.version}` }, "Approve"),
      h("button", { type: "button", class: "danger", onclick: send("reject"), "aria-label": `Reject ${v.title} version ${v.version}` }, "Reject")),
    status);
}

function item(v, reload) {
  const headingId = `rv-${v.entity_id}-${v.version}`;
  return h("article", { class: "card review", "aria-labelledby": headingId },
    h("h2", { id: headingId }, typeBadge(v.entity_type), " ", h("a", { href: `/store/${v.entity_id}` }, v.title), ` · version ${v.version}`),
    h("p", { class: "meta" }, `by ${v.owner} · served as `, h("code", {}, v.served_name), ` · uploaded ${formatTime(v.created_at)}`,
      v.new_entry ? " · a new entry" : " · a new version (installers keep the approved one until you decide)", " ", badges(v.badges)),
    scanReport(v.capabilities, v.findings, `${headingId}-scan`),
    changes(v),
    decision(v, reload));
}

export async function render(main, ctx) {
  const [{ versions }, { mode }] = await Promise.all([
    api("GET", "/api/admin/review"),
    api("GET", "/api/admin/settings/store-review"),
  ]);
  const reload = () => render(main, ctx);
  const modes = h("select", { id: "review-mode", name: "review-mode" },
    [["off", "Off: every upload is served at once"],
      ["executable", "Entries that run code (hooks, servers, executables)"],
      ["all", "Every upload"]].map(([value, text]) => h("option", { value, selected: value === mode }, text)));
  modes.addEventListener("change", async () => {
    try {
      await api("PUT", "/api/admin/settings/store-review", { mode: modes.value });
      toast("Review setting saved. It applies to uploads from now on.");
    } catch (err) { toast(err.message); }
  });
  replace(main,
    h("h1", {}, "Review"),
    h("p", { class: "lead" }, "What waits here is in no one's marketplace yet. Read what it can do and what changed, then approve it or reject it with a reason."),
    h("div", { class: "field" }, h("label", { for: "review-mode" }, "Which uploads wait for review"), modes),
    versions.length
      ? versions.map((v) => item(v, reload))
      : h("p", { class: "empty" }, "Nothing waits for review."));
  titled(main, "Review");
}
