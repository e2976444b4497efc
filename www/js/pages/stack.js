// My AI Stack: the granted plugins with a switch each (required ones locked),
// Store installs with what each can do and Uninstall, and how to connect
// Claude Code, with the member's own tokens (a new one is shown once).

import { api } from "../api.js";
import { h, replace, toast, copyButton, titled } from "../dom.js";
import { tokenList, tokenForm } from "../tokens.js";
import { scanDetails } from "../scan.js";

function grantedRow(g) {
  const label = g.name || g.plugin;
  const id = `sw-${g.marketplace}-${g.plugin}`;
  const sw = h("input", {
    type: "checkbox", role: "switch", id,
    checked: g.served, disabled: !g.can_opt_out || g.disabled,
    "aria-describedby": `${id}-why`,
  });
  const why = g.disabled
    ? "Switched off for everyone by an admin."
    : !g.can_opt_out
      ? "Required by your organisation: it is always in your stack."
      : g.served ? "In your stack." : "Switched off by you.";
  const whyEl = h("p", { class: "why", id: `${id}-why` }, why);
  sw.addEventListener("change", async () => {
    sw.disabled = true;
    const on = sw.checked;
    try {
      await api(on ? "DELETE" : "PUT", `/api/me/optouts/${encodeURIComponent(g.marketplace)}/${encodeURIComponent(g.plugin)}`);
      whyEl.textContent = on ? "In your stack." : "Switched off by you.";
      toast(on ? `${label} is back in your stack.` : `${label} is switched off. Your next update leaves it out.`);
    } catch (e) {
      sw.checked = !on;
      toast(e.message);
    } finally {
      sw.disabled = false;
    }
  });
  return h("li", { class: `stack-item${g.can_opt_out ? "" : " locked"}` },
    h("div", { class: "switch" }, sw, h("label", { for: id }, label)),
    h("p", { class: "meta" }, `${g.marketplace}/${g.plugin}`, versionText(g), g.can_opt_out ? "" : " · ", g.can_opt_out ? null : h("span", { class: "lock" }, "required")),
    whyEl);
}

// The author's version and the content digest apart: the served version is
// both (`1.0.0+3f2a…`), and only the digest moves when an admin re-imports
// a fix under the same version.
function versionText(g) {
  if (!g.version) return "";
  if (!g.content_digest) return ` · version ${g.version}`;
  return ` · version ${g.author_version || "none"} · content ${g.content_digest}`;
}

function installRow(e, onGone) {
  return h("li", { class: "stack-item" },
    h("div", {}, h("a", { href: `/store/${e.id}` }, e.title), " ", h("span", { class: `badge badge-${e.type}` }, e.type)),
    h("p", { class: "meta" }, `served as ${e.served_name} · by ${e.owner} · version ${e.version}`),
    scanDetails(e),
    h("button", {
      type: "button", class: "secondary", "aria-label": `Uninstall ${e.title}`,
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await api("DELETE", `/api/store/entities/${e.id}/install`);
          toast(`Uninstalled ${e.title}.`);
          onGone();
        } catch (err) {
          toast(err.message);
          ev.target.disabled = false;
        }
      },
    }, "Uninstall"));
}

function commandBlock(label, text, copyName) {
  return h("div", { class: "command" },
    h("p", {}, label),
    h("pre", {}, h("code", {}, text)),
    copyButton(text, `Copy ${copyName}`));
}

// The settings.json form of the registration: what `claude plugin
// marketplace add` writes into ~/.claude/settings.json, plus autoUpdate,
// so Claude Code updates the marketplace and its plugins at every start.
export function settingsJson(marketplace, url) {
  return JSON.stringify({
    extraKnownMarketplaces: {
      [marketplace]: { source: { source: "git", url }, autoUpdate: true },
    },
  }, null, 2);
}

function connectPanel(marketplace, firstPlugin) {
  const origin = location.origin;
  const host = location.host;
  const url = `${origin}/marketplace.git`;
  const withToken = `${location.protocol}//x:<your-token>@${host}/marketplace.git`;
  const tokensList = h("ul", { class: "tokens", "aria-label": "Your tokens" });
  const loadTokens = tokenList(tokensList, {
    listPath: "/api/me/tokens", revokePath: "/api/me/tokens",
    revokedNote: (t) => `Revoked ${t.name}. Clones and sessions using it stop working now.`,
  });
  const { form: create, status: newTokenBox } = tokenForm("/api/me/tokens", {
    nameAttrs: { placeholder: "laptop" },
    nameHint: "Where you will use it, so you know which to revoke later.",
    shown: (token) => h("div", { class: "new-token", role: "region", "aria-label": "New token" },
      h("p", {}, h("strong", {}, "Your new token. "), "Copy it now: it is shown only once."),
      h("pre", {}, h("code", { class: "token-value" }, token)),
      copyButton(token, "Copy token"),
      commandBlock("Register your marketplace with it:",
        `claude plugin marketplace add ${location.protocol}//x:${token}@${host}/marketplace.git`, "the command with the new token"),
      commandBlock("Or put it in ~/.claude/settings.json, kept up to date at every start:",
        settingsJson(marketplace, `${location.protocol}//x:${token}@${host}/marketplace.git`), "the settings with the new token")),
    created: loadTokens,
  });

  loadTokens();
  return h("section", { class: "card", "aria-labelledby": "connect-h" },
    h("h2", { id: "connect-h" }, "Connect Claude Code"),
    h("p", {}, "Register your marketplace once; Claude Code then keeps it up to date. Use a token of yours in place of ", h("code", {}, "<your-token>"), "."),
    commandBlock("With the token in the URL:", `claude plugin marketplace add ${withToken}`, "the marketplace add command"),
    commandBlock("Then install a plugin, for example:", `claude plugin install ${firstPlugin || "<plugin>"}@${marketplace}`, "the install command"),
    h("h3", {}, "Keep it current"),
    h("p", {}, "Claude Code updates a marketplace you added only when asked to: your admins' changes, and the plugins they take away, reach you when it updates. Turn on automatic updates with this in ", h("code", {}, "~/.claude/settings.json"), " (merged with what is there):"),
    commandBlock("Registration with automatic updates:", settingsJson(marketplace, withToken), "the settings"),
    h("p", { class: "hint" }, "Already registered? ", h("code", {}, "claude plugin marketplace add"), " wrote the same entry under ",
      h("code", {}, `extraKnownMarketplaces.${marketplace}`), " without ", h("code", {}, "\"autoUpdate\": true"),
      ": add that line to it. Claude Code reads it when a session starts (the ", h("code", {}, "claude plugin"),
      " commands alone do not register a marketplace that is only in settings.json). If Claude Code's own auto-updater is off on your machine, set ",
      h("code", {}, "FORCE_AUTOUPDATE_PLUGINS=1"), " too."),
    h("p", {}, "Claude Code checks for updates in the background, with git's credential helpers turned off. Only the token in the URL keeps those automatic updates working."),
    h("details", {},
      h("summary", {}, "Keep the token out of Claude Code's settings (git credential helper)"),
      h("p", { class: "hint" }, "With this way, automatic updates stop: Claude Code's background refresh runs git with credential helpers off (",
        h("code", {}, "-c credential.helper="), ") and without prompts, so it cannot read the token. Run ",
        h("code", {}, `claude plugin marketplace update ${marketplace}`), " yourself to update."),
      commandBlock("Store the token in git's credential helper, then register the URL without it:",
        `git config --global credential.${origin}.helper store\n` +
        `printf 'protocol=${location.protocol.replace(":", "")}\\nhost=${host}\\nusername=x\\npassword=%s\\n\\n' "<your-token>" | git credential approve\n` +
        `claude plugin marketplace add ${url}`, "the credential helper commands")),
    h("h3", {}, "Your tokens"),
    tokensList,
    create,
    newTokenBox);
}

export async function render(main) {
  const [stack, info] = await Promise.all([api("GET", "/api/me/stack"), api("GET", "/marketplace/info")]);
  const installs = h("ul", { class: "stack" });
  const paintInstalls = (rows) => replace(installs, rows.length
    ? rows.map((e) => installRow(e, () => paintInstalls(rows.filter((r) => r.id !== e.id))))
    : h("li", { class: "empty" }, "Nothing from the Store yet. ", h("a", { href: "/store" }, "Browse the Store"), " to add skills, agents and plugins."));
  paintInstalls(stack.store_installs);
  const granted = stack.granted.length
    ? h("ul", { class: "stack" }, stack.granted.map(grantedRow))
    : h("p", { class: "empty" }, "No plugins are granted to your groups yet. An admin grants them.");
  const first = info.plugins.find((p) => p.name)?.name;
  replace(main,
    h("h1", {}, "My AI Stack"),
    h("p", { class: "lead" }, `What your marketplace “${info.name}” serves you: ${info.plugins.length} plugin${info.plugins.length === 1 ? "" : "s"} now. Changes reach Claude Code on its next update.`),
    h("div", { class: "two-col" },
      h("div", {},
        h("section", { "aria-labelledby": "granted-h" },
          h("h2", { id: "granted-h" }, "Granted"),
          h("p", { class: "hint" }, "Plugins your admins granted to your groups. Switch off the ones you do not want."),
          granted),
        h("section", { "aria-labelledby": "installs-h" },
          h("h2", { id: "installs-h" }, "From the Store"),
          installs)),
      connectPanel(info.name, first)));
  titled(main, "My AI Stack");
}
