// Admin: one user's role, groups, tokens and effective access (every plugin
// they are served and why).

import { api } from "../api.js";
import { h, replace, toast, copyButton, titled } from "../dom.js";
import { tokenList, tokenForm } from "../tokens.js";

function accessTable(access) {
  const why = (p) => {
    const via = p.via.map(([g, r]) => `${g} (${r})`).join(", ");
    if (p.reason === "disabled") return `Not served: disabled by an admin. Granted through ${via}.`;
    if (p.reason === "opted_out") return `Not served: the user switched it off. Granted through ${via}.`;
    return `Granted through ${via}.`;
  };
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("caption", {}, "Curated plugins granted to this user's groups"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Plugin"), h("th", { scope: "col" }, "Served"), h("th", { scope: "col" }, "Why"))),
      h("tbody", {}, access.plugins.length
        ? access.plugins.map((p) => h("tr", {},
            h("td", {}, p.name || p.plugin, h("br"), h("small", { class: "hint" }, `${p.marketplace}/${p.plugin}`)),
            h("td", {}, p.served ? "yes" : "no"),
            h("td", {}, why(p))))
        : h("tr", {}, h("td", { colspan: 3 }, "No grants reach this user. Add them to a group that has grants.")))));
}

export async function render(main, { params }) {
  const name = params[0];
  const [detail, access] = await Promise.all([
    api("GET", `/api/admin/users/${name}`),
    api("GET", `/api/admin/users/${name}/access`),
  ]);
  const u = detail.user;
  const adminSwitch = h("input", { type: "checkbox", role: "switch", id: "admin-switch", checked: u.admin });
  adminSwitch.addEventListener("change", async () => {
    adminSwitch.disabled = true;
    try {
      await api("PATCH", `/api/admin/users/${name}`, { admin: adminSwitch.checked });
      toast(adminSwitch.checked ? `${name} is now an admin.` : `${name} is no longer an admin.`);
    } catch (e) {
      adminSwitch.checked = !adminSwitch.checked;
      toast(e.message);
    } finally {
      adminSwitch.disabled = false;
    }
  });

  // Offboarding: disabled, every token and session of theirs stops at once.
  const disabledSwitch = h("input", { type: "checkbox", role: "switch", id: "disabled-switch", checked: !!u.disabled });
  disabledSwitch.addEventListener("change", async () => {
    disabledSwitch.disabled = true;
    try {
      await api(disabledSwitch.checked ? "PUT" : "DELETE", `/api/admin/users/${name}/disabled`);
      toast(disabledSwitch.checked
        ? `${name} is disabled: their tokens and sessions no longer work.`
        : `${name} is enabled again.`);
    } catch (e) {
      disabledSwitch.checked = !disabledSwitch.checked;
      toast(e.message);
    } finally {
      disabledSwitch.disabled = false;
    }
  });
  // Deleting takes two clicks: the first only arms the second.
  const confirmDelete = h("button", {
    type: "button", class: "danger",
    onclick: async () => {
      try {
        await api("DELETE", `/api/admin/users/${name}`);
        toast(`Deleted ${name}.`);
        location.assign("/admin/users");
      } catch (e) { toast(e.message); }
    },
  }, `Delete ${name} and everything they own`);
  const deleteButton = h("button", {
    type: "button", class: "secondary",
    onclick: () => { confirmBox.hidden = false; confirmDelete.focus(); },
  }, "Delete user…");
  // Hidden by its box: a button's own display rule would show it.
  const confirmBox = h("p", { hidden: true }, confirmDelete);

  const tokens = h("ul", { class: "tokens", "aria-label": `Tokens of ${name}` });
  const loadTokens = tokenList(tokens, { listPath: `/api/admin/users/${name}/tokens`, revokePath: "/api/admin/tokens", showRevoked: true });
  await loadTokens();
  const { form: tokenForm_, status: newToken } = tokenForm(`/api/admin/users/${name}/tokens`, {
    shown: (token) => h("div", { class: "new-token", role: "region", "aria-label": "New token" },
      h("p", {}, `A new token for ${name}. Hand it over now: it is shown only once.`),
      h("pre", {}, h("code", {}, token)), copyButton(token, "Copy token")),
    created: loadTokens,
  });

  replace(main,
    h("p", { class: "crumbs" }, h("a", { href: "/admin/users" }, "Users"), ` / ${name}`),
    h("h1", {}, name),
    h("p", { class: "meta" }, u.email),
    h("div", { class: "switch" }, adminSwitch, h("label", { for: "admin-switch" }, "Admin")),
    h("div", { class: "switch" }, disabledSwitch, h("label", { for: "disabled-switch" }, "Disabled")),
    h("p", { class: "actions" }, deleteButton),
    confirmBox,
    h("section", { "aria-labelledby": "groups-h" },
      h("h2", { id: "groups-h" }, "Groups"),
      detail.groups.length ? h("ul", {}, detail.groups.map((g) => h("li", {}, g))) : h("p", {}, "In no group, so no curated plugin reaches them."),
      h("p", {}, h("a", { href: "/admin/groups" }, "Change group memberships"))),
    h("section", { "aria-labelledby": "access-h" },
      h("h2", { id: "access-h" }, "Effective access"),
      accessTable(access),
      h("h3", {}, "From the Store"),
      access.store_installs.length
        ? h("ul", {}, access.store_installs.map((e) => h("li", {}, h("a", { href: `/store/${e.id}` }, e.title), ` (${e.type}, served as ${e.served_name}): installed by the user from the Store`)))
        : h("p", {}, "No Store installs.")),
    h("section", { "aria-labelledby": "tokens-h" },
      h("h2", { id: "tokens-h" }, "Tokens"),
      tokens, tokenForm_, newToken));
  titled(main, name);
}
