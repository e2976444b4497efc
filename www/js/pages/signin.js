// Sign in: a personal access token exchanged for a session cookie.

import { api } from "../api.js";
import { h, replace, field, errorBox, titled } from "../dom.js";

export async function render(main, { query, navigate, signedIn, accessError }) {
  const token = field("Token", { type: "password", autocomplete: "current-password", required: true, spellcheck: "false" },
    "Your personal access token (it starts with mpe_). An admin gives you your first one; later you can create more in My AI Stack.");
  const status = h("div", {}, accessError ? errorBox(accessError) : null);
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h("form", {
    class: "card narrow",
    onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      replace(status);
      try {
        const { user } = await api("POST", "/api/session", { token: token.input.value });
        signedIn(user);
        const next = query.get("next");
        navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/store", { replace: true });
      } catch (err) {
        replace(status, errorBox(err.message));
        submit.disabled = false;
        token.input.focus();
      }
    },
  }, token.el, status, submit);
  replace(main,
    h("h1", {}, "Sign in"),
    h("p", { class: "lead" }, "Your organisation's Claude Code plugins: browse the Store, publish your own, and choose what is in your stack."),
    form);
  titled(main, "Sign in");
  token.input.focus();
}
