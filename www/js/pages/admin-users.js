// Admin: the users, and creating one.

import { api } from "../api.js";
import { h, replace, field, errorBox, toast, titled } from "../dom.js";

export async function render(main, { navigate }) {
  const { users } = await api("GET", "/api/admin/users");
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
      h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Username"), h("th", { scope: "col" }, "Email"), h("th", { scope: "col" }, "Role"))),
        h("tbody", {}, users.map((u) => h("tr", {},
          h("td", {}, h("a", { href: `/admin/users/${u.username}` }, u.username)),
          h("td", {}, u.email),
          h("td", {}, u.admin ? "admin" : "member")))))),
    form);
  titled(main, "Users");
}
