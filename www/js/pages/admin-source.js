// Admin: a curated marketplace that follows an upstream git repository:
// the form that sets its source (on the list page for a new marketplace,
// on a marketplace's page for an existing one), and the sync state with
// "Sync now" and "Stop following".

import { api } from "../api.js";
import { h, replace, field, errorBox, formatTime, toast } from "../dom.js";

/**
 * The "follow a repository" form. With `fixedSlug`, for that marketplace;
 * else it asks for a name. `done(slug)` runs after the first sync.
 */
export function sourceForm({ fixedSlug, done }) {
  const slug = fixedSlug ? null : field("Name of the new marketplace", { id: "src-slug", required: true, pattern: "[a-z0-9][a-z0-9_-]{0,63}", autocomplete: "off", spellcheck: "false" },
    "Lowercase letters, digits, dashes and underscores.");
  const url = field("Repository URL", { id: "src-url", type: "url", required: true, placeholder: "https://github.com/acme/claude-plugins", autocomplete: "off", spellcheck: "false" },
    "Any git server over HTTPS. No credentials in the address: name a Worker secret below.");
  const ref = field("Branch, tag or commit", { id: "src-ref", autocomplete: "off", spellcheck: "false" }, "Empty: the repository's default branch.");
  const auth = field("Token secret name", { id: "src-auth", autocomplete: "off", spellcheck: "false", placeholder: "UPSTREAM_ACME_TOKEN" },
    "For a private repository: the name of a Worker secret holding a read token (wrangler secret put UPSTREAM_…). Only secrets named UPSTREAM_… may be used.");
  const hook = field("Webhook secret name", { id: "src-hook", autocomplete: "off", spellcheck: "false", placeholder: "UPSTREAM_ACME_HOOK" },
    "Optional: the name of a Worker secret shared with the repository's push webhook. It too must start with UPSTREAM_.");
  const status = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, "Follow and sync");
  const opt = (f) => f.input.value.trim() || undefined;
  return h("form", {
    class: "card",
    onsubmit: async (e) => {
      e.preventDefault();
      const name = fixedSlug || slug.input.value.trim();
      submit.disabled = true;
      replace(status, h("p", {}, "Fetching the repository…"));
      try {
        await api("PUT", `/api/admin/marketplaces/${encodeURIComponent(name)}/source`, {
          url: url.input.value.trim(), ref: opt(ref), auth_secret: opt(auth), webhook_secret: opt(hook),
        });
        await api("POST", `/api/admin/marketplaces/${encodeURIComponent(name)}/sync`);
        done(name);
      } catch (err) {
        replace(status, errorBox(err.message));
        submit.disabled = false;
      }
    },
  }, h("h2", {}, "Follow a git repository"), slug ? slug.el : null, url.el, ref.el, auth.el, hook.el, status, submit);
}

/** The sync state of `slug`'s source, with its actions. */
export function sourceState(slug, source, reload) {
  const status = h("div", { "aria-live": "polite" });
  const act = (label, cls, run) => h("button", {
    type: "button", class: cls,
    onclick: async (e) => {
      e.target.disabled = true;
      try {
        await run();
        reload();
      } catch (err) {
        replace(status, errorBox(err.message));
        e.target.disabled = false;
      }
    },
  }, label);
  const err = source.last_error;
  return h("div", { class: "card" },
    h("dl", { class: "facts" },
      h("dt", {}, "Repository"), h("dd", {}, source.url),
      h("dt", {}, "Follows"), h("dd", {}, source.ref || "the default branch"),
      h("dt", {}, "Serving commit"), h("dd", { class: "mono" }, source.upstream_commit ? source.upstream_commit.slice(0, 12) : "none yet"),
      h("dt", {}, "Last synced"), h("dd", {}, formatTime(source.last_success_at)),
      h("dt", {}, "Last attempt"), h("dd", {}, formatTime(source.last_attempt_at)),
      h("dt", {}, "Token secret"), h("dd", {}, source.auth_secret || "none (public)"),
      h("dt", {}, "Webhook"), h("dd", {}, source.webhook_secret ? `POST /api/hooks/${slug}, secret ${source.webhook_secret}` : "not set")),
    err ? errorBox(`The last sync failed and the previous content is still served: ${err.message} (${err.code})`) : null,
    status,
    act("Sync now", "", async () => {
      await api("POST", `/api/admin/marketplaces/${encodeURIComponent(slug)}/sync`);
      toast(`${slug} is in sync with its repository.`);
    }),
    " ",
    act("Stop following", "secondary", async () => {
      await api("DELETE", `/api/admin/marketplaces/${encodeURIComponent(slug)}/source`);
      toast(`${slug} no longer follows a repository; import archives to update it.`);
    }));
}
