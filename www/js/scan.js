// What a Store entry can do, in words: its badges for cards, and the
// capabilities and findings of its scan (src/catalog/scan) for the upload
// preview and the entry's page. The scan says what it saw; these words
// never call an entry safe.

import { h } from "./dom.js";

/** The badges of an entry ("runs commands", "starts a server", …). */
export function badges(list) {
  return (list || []).map((b) => h("span", { class: "badge badge-cap" }, b));
}

function hookText(hk) {
  const when = hk.matcher && hk.matcher !== "*" ? `${hk.event} (${hk.matcher})` : `${hk.event}, on every tool`;
  return [`${when}: `, h("code", {}, hk.command || "—")];
}

function serverText(s) {
  return [`${s.name}: `, h("code", {}, s.command || s.url)];
}

function grantText(g) {
  const tools = g.tools.length ? g.tools.join(", ") : "no tools listed";
  return [h("code", {}, g.path), `: ${tools}`, g.permission_mode ? ` (permission mode ${g.permission_mode})` : ""];
}

/** One labelled list of what the entry can do, or nothing. */
function group(title, items, text) {
  if (!items || !items.length) return null;
  return h("div", { class: "cap-group" },
    h("h3", {}, title),
    h("ul", {}, items.map((i) => h("li", {}, text(i)))));
}

/** The capabilities and findings of a scan, in words. */
export function scanReport(c, findings, headingId = "scan-h") {
  if (!c) {
    return h("section", { class: "scan", "aria-labelledby": headingId },
      h("h2", { id: headingId }, "What it can do"),
      h("p", { class: "hint" }, "This version was stored before entries were scanned."));
  }
  const groups = [
    group("Runs hooks", c.hooks, hookText),
    group("Starts MCP servers", c.mcp_servers, serverText),
    group("Starts language servers", c.lsp_servers, serverText),
    group("Executable files", c.executables, (e) => [h("code", {}, e.path), ` (${e.why})`]),
    group("Changes settings", c.settings, (p) => h("code", {}, p)),
    group("Agents' tools", c.agent_tools, grantText),
    group("Skills' allowed tools", c.skill_allowed_tools, grantText),
  ].filter(Boolean);
  const seen = (findings || []).map((f) => h("li", { class: `finding ${f.severity}` },
    h("span", { class: "severity" }, f.severity), " ",
    f.path ? h("code", {}, f.line ? `${f.path}:${f.line}` : f.path) : null, f.path ? " " : null,
    f.message));
  return h("section", { class: "scan", "aria-labelledby": headingId },
    h("h2", { id: headingId }, "What it can do"),
    groups.length ? groups : h("p", {}, "No hooks, servers, executables, settings or tool grants."),
    h("h3", {}, "What the scan saw"),
    seen.length
      ? h("ul", { class: "findings" }, seen)
      : h("p", {}, "None of the patterns the scan looks for."),
    h("p", { class: "hint" }, "The scan reports what it saw in the entry's text files. It cannot prove an entry safe: read what it runs before you install it."));
}
