// Admin: the users, by name and paged (`after` in the URL), and creating one.

import { api } from "../api.js";
import { h, replace, field, errorBox, toast, titled } from "../dom.js";

export async function render(main, { query, navigate }) {
  const after = query.get("after");
  const { users, next_after: nextAfter } = await api("GET", `/api/admin/users${after ? `?after=${encodeURIComponent(after)}` : ""}`);
  const username = field("Username", { required: true, autocomplete: "off", spellcheck: "false" }, "Lowercase letters, digits and dashes.");
  const email = field("Email", { type: "email", required: true, autocomplete: "off" });
  const isAdmin = h("input", { type: "checkbox", id: "new-admin" });
  const status = h("div");
  const form = h("form", {
    class: "card",
    onsubmit: async (e) => {
      e.preventDefault();
      replace(status);
      try {
        const u = await api("POST", "/api/admin/users", { username: username.input.value.trim(), email: email.input.value.trim(), admin: isAdmin.checked });
        toast(`Created ${u.username}.`);
        navigate(`/admin/users/${u.username}`);
      } catch (err) {
        replace(status, errorBox(err.message));
      }
    },
  }, h("h2", {}, "New user"), username.el, email.el,
  h("div", { class: "field" }, h("label", { class: "choice", for: "new-admin" }, isAdmin, "Admin (can use these admin pages)")),
  status, h("button", { type: "submit" }, "Create user"));
  replace(main,
    h("h1", {}, "Users"),
    h("div", { class: "table-wrap" },
      h("table", { class: "records" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Username"), h("th", { scope: "col" }, "Email"), h("th", { scope: "col" }, "Role"))),
        h("tbody", {}, users.map((u) => h("tr", {},
          h("td", { "data-label": "Username" }, h("a", { href: `/admin/users/${u.username}` }, u.username)),
          h("td", { "data-label": "Email" }, u.email),
          h("td", { "data-label": "Role" }, u.admin ? "admin" : "member")))))),
    h("nav", { class: "pager", "aria-label": "User pages" },
      after ? h("a", { href: "/admin/users" }, "First users") : null,
      nextAfter ? h("a", { href: `/admin/users?after=${encodeURIComponent(nextAfter)}` }, "More users") : null),
    form);
  titled(main, "Users");
}
