// Admin: groups and their members.

import { api } from "../api.js";
import { h, replace, field, errorBox, toast, titled } from "../dom.js";

export async function render(main, ctx) {
  const [{ groups }, { users }] = await Promise.all([api("GET", "/api/admin/groups"), api("GET", "/api/admin/users")]);
  const again = () => render(main, ctx);
  const name = field("Group name", { required: true, autocomplete: "off", spellcheck: "false" });
  const status = h("div");
  const create = h("form", {
    class: "inline",
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("POST", "/api/admin/groups", { name: name.input.value.trim() });
        toast(`Created ${name.input.value.trim()}.`);
        again();
      } catch (err) {
        replace(status, errorBox(err.message));
      }
    },
  }, name.el, h("button", { type: "submit" }, "Create group"));

  // Members are added by username (a datalist suggests the first page of
  // users), so an organisation of any size fits the form.
  const known = h("datalist", { id: "known-users" }, users.map((u) => h("option", { value: u.username })));
  const groupCard = (g) => {
    const pick = h("input", { id: `add-${g.name}`, list: "known-users", required: true, autocomplete: "off", spellcheck: "false", "aria-label": `User to add to ${g.name}` });
    return h("section", { class: "card", "aria-labelledby": `g-${g.name}` },
      h("h2", { id: `g-${g.name}` }, g.name),
      h("ul", { class: "tokens", "aria-label": `Members of ${g.name}` }, g.members.length
        ? g.members.map((m) => h("li", {},
            h("a", { href: `/admin/users/${m}` }, m),
            h("button", {
              type: "button", class: "secondary", "aria-label": `Remove ${m} from ${g.name}`,
              onclick: async () => {
                try { await api("DELETE", `/api/admin/groups/${g.name}/members/${m}`); toast(`Removed ${m} from ${g.name}.`); again(); } catch (e) { toast(e.message); }
              },
            }, "Remove")))
        : h("li", {}, "No members yet.")),
      h("form", {
        class: "inline",
        onsubmit: async (e) => {
          e.preventDefault();
          const who = pick.value.trim();
          try { await api("PUT", `/api/admin/groups/${g.name}/members/${encodeURIComponent(who)}`); toast(`Added ${who} to ${g.name}.`); again(); } catch (err) { toast(err.message); }
        },
      }, h("div", { class: "field" }, h("label", { for: `add-${g.name}` }, "Add a member (username)"), pick), h("button", { type: "submit" }, `Add to ${g.name}`)));
  };
  replace(main,
    h("h1", {}, "Groups"),
    h("p", { class: "lead" }, "Plugins are granted to groups; a member receives what any of their groups is granted. ", h("a", { href: "/admin/access" }, "Open the access matrix"), "."),
    create, status, known,
    groups.length ? groups.map(groupCard) : h("p", { class: "empty" }, "No groups yet. Create one above."));
  titled(main, "Groups");
}
