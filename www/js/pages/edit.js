// An owner edits an entry: its details (saved as JSON), or a new version of
// its files through the same preview step as the upload wizard.

import { api } from "../api.js";
import { h, replace, errorBox, toast, titled } from "../dom.js";
import { zipStep, detailsFields } from "./upload.js";

export async function render(main, { user, params, navigate }) {
  const { entity: e } = await api("GET", `/api/store/entities/${params[0]}`);
  if (e.owner !== user.username) {
    replace(main, h("h1", {}, "Not yours to edit"), h("p", {}, `Only ${e.owner} can edit this entry. `, h("a", { href: `/store/${e.id}` }, "Back to it"), "."));
    return titled(main, "Not yours");
  }
  const details = detailsFields(e);
  const metaStatus = h("div");
  const save = h("button", { type: "submit" }, "Save details");
  const metaForm = h("form", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const patch = {};
      for (const [k, f] of Object.entries(details)) {
        const v = f.input.value.trim();
        if (v || k.endsWith("_url")) patch[k] = v || null;
      }
      // An empty URL field keeps the stored one (the API has no "clear").
      for (const k of ["photo_url", "video_url"]) if (patch[k] === null) delete patch[k];
      save.disabled = true;
      replace(metaStatus);
      try {
        await api("PUT", `/api/store/entities/${e.id}`, patch);
        toast("Saved.");
        navigate(`/store/${e.id}`);
      } catch (err) {
        replace(metaStatus, errorBox(err.message));
        save.disabled = false;
      }
    },
  }, Object.values(details).map((f) => f.el), metaStatus, save);

  const versionStatus = h("div");
  const publish = h("button", { type: "button", hidden: true }, `Publish version ${e.version + 1}`);
  let accepted = null;
  const step = zipStep({
    fixedType: e.type,
    fixedName: e.name,
    onReady: (_p, form) => { accepted = form; publish.hidden = false; },
    onReset: () => { accepted = null; publish.hidden = true; },
  });
  publish.addEventListener("click", async () => {
    const form = new FormData();
    form.set("file", accepted.get("file"));
    publish.disabled = true;
    replace(versionStatus);
    try {
      await api("PUT", `/api/store/entities/${e.id}`, form);
      toast(`Published version ${e.version + 1}.`);
      navigate(`/store/${e.id}`);
    } catch (err) {
      replace(versionStatus, errorBox(err.message));
      publish.disabled = false;
    }
  });

  replace(main,
    h("p", { class: "crumbs" }, h("a", { href: "/store" }, "Store"), " / ", h("a", { href: `/store/${e.id}` }, e.title), " / Edit"),
    h("h1", {}, `Edit ${e.title}`),
    h("section", { class: "step", "aria-labelledby": "meta-h" }, h("h2", { id: "meta-h" }, "Details"), metaForm),
    h("section", { class: "step", "aria-labelledby": "ver-h" },
      h("h2", { id: "ver-h" }, "New version"),
      h("p", {}, `Upload a new ZIP of this ${e.type}. Everyone who installed it gets it on their next update.`),
      step, versionStatus, publish));
  titled(main, `Edit ${e.title}`);
}
