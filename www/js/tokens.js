// Tokens as people see them: one line per token (name, non-secret prefix,
// creation, last use, expiry) and the form that makes one, optionally
// expiring. Shared by a member's own tokens (My AI Stack) and an admin's
// view of any user's, so both show and ask the same things.

import { api } from "./api.js";
import { h, replace, field, formatTime, errorBox, toast } from "./dom.js";

/** What a token is, in words: everything but the secret. */
function describeToken(t) {
  return h("span", {}, h("strong", {}, t.name), t.prefix ? h("code", {}, ` ${t.prefix}…`) : "",
    ` · created ${formatTime(t.created_at)}`,
    ` · ${t.last_used_at ? `last used ${formatTime(t.last_used_at)}` : "never used"}`,
    t.expires_at ? ` · ${t.expires_at * 1000 < Date.now() ? "expired" : "expires"} ${formatTime(t.expires_at)}` : "",
    t.revoked_at ? ` · revoked ${formatTime(t.revoked_at)}` : "");
}

/**
 * Fills `list` with the tokens at `listPath`, each live one with a Revoke
 * button that deletes `${revokePath}/${id}`; `revokedNote` is the toast.
 * Returns the reload function.
 */
export function tokenList(list, { listPath, revokePath, showRevoked = false, revokedNote = (t) => `Revoked ${t.name}.` }) {
  const load = async () => {
    const { tokens } = await api("GET", listPath);
    const shown = showRevoked ? tokens : tokens.filter((t) => !t.revoked_at);
    replace(list, shown.length ? shown.map((t) => h("li", {},
      describeToken(t),
      t.revoked_at ? null : h("button", {
        type: "button", class: "secondary", "aria-label": `Revoke token ${t.name}`,
        onclick: async (ev) => {
          ev.target.disabled = true;
          try {
            await api("DELETE", `${revokePath}/${t.id}`);
            toast(revokedNote(t));
            load();
          } catch (err) {
            toast(err.message);
            ev.target.disabled = false;
          }
        },
      }, "Revoke"))) : h("li", {}, "No tokens yet."));
  };
  return load;
}

/**
 * The form that creates a token at `path` (a name and an optional expiry
 * in days); `shown(token)` presents the new secret, once; `created()` runs
 * after it (to reload the list).
 */
export function tokenForm(path, { nameAttrs = {}, nameHint, shown, created }) {
  const name = field("Token name", { required: true, maxlength: 100, ...nameAttrs }, nameHint);
  const days = field("Expires after (days)", { type: "number", min: 1, max: 3650, inputmode: "numeric" },
    "Leave empty for a token that lasts until it is revoked.");
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", {
    class: "inline",
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = { name: name.input.value.trim() };
        const d = days.input.value.trim();
        if (d) body.expires_in_days = Number(d);
        const { token } = await api("POST", path, body);
        name.input.value = "";
        days.input.value = "";
        replace(status, shown(token));
        created();
      } catch (err) {
        replace(status, errorBox(err.message));
      }
    },
  }, name.el, days.el, h("button", { type: "submit" }, "Create token"));
  return { form, status };
}
