// Admin: the review queue. Each Store version waiting for an admin, oldest
// first, with what it can do (its scan), what changed against the version
// installers have now (file by file, and line by line on demand), and
// Approve / Reject with a reason the owner sees.

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

const OP_WORDS = { "+": ["add", "added: "], "-": ["del", "removed: "], " ": ["ctx", ""] };

/** One file's hunks, as `git diff` shows them: removed, added, context. */
function hunks(file) {
  const d = file.diff;
  if (d.kind !== "text") return h("p", { class: "hint" }, `No line diff: ${d.why}.`);
  if (!d.hunks.length) return h("p", { class: "hint" }, "Only its mode or name changed.");
  return h("div", { class: "diff", tabindex: "0", role: "region", "aria-label": `Changes to ${file.path}` },
    d.hunks.map((hk) => [
      h("div", { class: "hunk-head" }, `@@ line ${hk.old_start} → line ${hk.new_start} @@`),
      hk.lines.map((l) => {
        const [cls, word] = OP_WORDS[l.op] || OP_WORDS[" "];
        return h("div", { class: cls },
          h("span", { "aria-hidden": "true" }, `${l.op} `),
          word ? h("span", { class: "visually-hidden" }, word) : null,
          l.text);
      }),
    ]),
    d.truncated ? h("p", { class: "hint" }, "The rest of this file's changes are not shown: open the file to read it.") : null);
}

/** A button that loads the version's changes line by line, in place. */
function lineDiff(v) {
  const out = h("div", { "aria-live": "polite" });
  const btn = h("button", {
    type: "button", class: "secondary", "aria-expanded": "false",
    "aria-label": `Show the changes of ${v.title} version ${v.version} line by line`,
    onclick: async () => {
      if (btn.getAttribute("aria-expanded") === "true") {
        replace(out);
        btn.setAttribute("aria-expanded", "false");
        btn.textContent = "Show the changes line by line";
        return;
      }
      btn.disabled = true;
      try {
        const d = await api("GET", `/api/admin/review/${v.entity_id}/${v.version}`);
        replace(out, d.files.map((f) => h("div", { class: "file-diff" },
          h("h3", {}, h("code", {}, f.path), ` (${CHANGE_WORDS[f.change] || f.change})`),
          hunks(f))));
        btn.setAttribute("aria-expanded", "true");
        btn.textContent = "Hide the line changes";
      } catch (err) {
        replace(out, errorBox(err.message));
      } finally {
        btn.disabled = false;
      }
    },
  }, "Show the changes line by line");
  return h("div", { class: "line-diff" }, btn, out);
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
    v.changes.length ? lineDiff(v) : null,
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
