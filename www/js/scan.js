// What a Store entry can do, in words: its badges for cards, and the
// capabilities and findings of its scan (src/catalog/scan) for the upload
// preview and the entry's page. The scan says what it saw; these words
// never call an entry safe.

import { h } from "./dom.js";

/**
 * A folded summary for a list (My AI Stack): its badges in the summary,
 * the report inside.
 */
export function scanDetails(e, level = 3) {
  const n = (e.findings || []).length;
  const saw = n ? ` (the scan saw ${n} pattern${n === 1 ? "" : "s"} to check)` : "";
  return h("details", { class: "scan-details" },
    h("summary", {}, "What it can do", saw, " ", badges(e.badges)),
    scanReport(e.capabilities, e.findings, `scan-${e.id}`, level));
}

/** The badges of an entry ("runs commands", "starts a server", …). */
export function badges(list) {
  return (list || []).map((b) => h("span", { class: "badge badge-cap" }, b));
}

// Only tool events have matchers; a catch-all one runs on every tool call.
function hookText(hk) {
  const toolEvent = /ToolUse|PermissionRequest/.test(hk.event);
  const when = hk.matcher && hk.matcher !== "*" ? `${hk.event} (${hk.matcher})` : toolEvent ? `${hk.event}, on every tool` : hk.event;
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
function group(title, items, text, level) {
  if (!items || !items.length) return null;
  return h("div", { class: "cap-group" },
    h(`h${level}`, {}, title),
    h("ul", {}, items.map((i) => h("li", {}, text(i)))));
}

/**
 * The capabilities and findings of a scan, in words, under a heading of
 * `level` (its groups one level below).
 */
export function scanReport(c, findings, headingId = "scan-h", level = 2) {
  const sub = `h${level + 1}`;
  if (!c) {
    return h("section", { class: "scan", "aria-labelledby": headingId },
      h(`h${level}`, { id: headingId }, "What it can do"),
      h("p", { class: "hint" }, "This version was stored before entries were scanned."));
  }
  const groups = [
    group("Runs hooks", c.hooks, hookText, level + 1),
    group("Starts MCP servers", c.mcp_servers, serverText, level + 1),
    group("Starts language servers", c.lsp_servers, serverText, level + 1),
    group("Executable files", c.executables, (e) => [h("code", {}, e.path), ` (${e.why})`], level + 1),
    group("Changes settings", c.settings, (p) => h("code", {}, p), level + 1),
    group("Agents' tools", c.agent_tools, grantText, level + 1),
    group("Skills' allowed tools", c.skill_allowed_tools, grantText, level + 1),
  ].filter(Boolean);
  const seen = (findings || []).map((f) => h("li", { class: `finding ${f.severity}` },
    h("span", { class: "severity" }, f.severity), " ",
    f.path ? h("code", {}, f.line ? `${f.path}:${f.line}` : f.path) : null, f.path ? " " : null,
    f.message));
  return h("section", { class: "scan", "aria-labelledby": headingId },
    h(`h${level}`, { id: headingId }, "What it can do"),
    groups.length ? groups : h("p", {}, "No hooks, servers, executables, settings or tool grants."),
    h(sub, {}, "What the scan saw"),
    seen.length
      ? h("ul", { class: "findings" }, seen)
      : h("p", {}, "None of the patterns the scan looks for."),
    h("p", { class: "hint" }, "The scan reports what it saw in the entry's text files. It cannot prove an entry safe: read what it runs before you install it."));
}
