// The upload wizard. Step 1: the type and the ZIP (drag and drop or a file
// picker), checked by the preview endpoint, which shows the served name, the
// files and the warnings, or the refusal in a sentence. Step 2: the Store
// page's details, then publish. The edit page reuses step 1 for new versions.

import { api } from "../api.js";
import { h, replace, field, errorBox, formatBytes, titled } from "../dom.js";
import { badges, scanReport } from "../scan.js";

/** A kebab-case name guessed from a ZIP's file name. */
function nameFromFile(fileName) {
  // A lone SKILL.md names nothing: the name is then asked for.
  if (/^skill\.md$/i.test(fileName)) return "";
  return fileName.replace(/\.(zip|skill|md)$/i, "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
}

/** The preview's result: served name, what it can do, files, warnings. */
export function previewResult(p) {
  return h("section", { class: "preview", "aria-label": "Preview" },
    h("p", {}, "It will be served as ", h("strong", { class: "served-name" }, p.served_name), ".", " ", badges(p.badges)),
    scanReport(p.capabilities, p.findings, "preview-scan-h"),
    p.warnings.length
      ? h("div", { class: "warning", role: "note" }, h("p", {}, "Warnings:"), h("ul", {}, p.warnings.map((w) => h("li", {}, w))))
      : null,
    h("table", { class: "files" },
      h("caption", {}, `${p.files.length} file${p.files.length === 1 ? "" : "s"}`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Path"), h("th", { scope: "col", class: "num" }, "Size"))),
      h("tbody", {}, p.files.map((f) => h("tr", {}, h("td", {}, h("code", {}, f.path)), h("td", { class: "num" }, formatBytes(f.size)))))));
}

/**
 * Step 1: pick a type (unless fixed) and a ZIP, and preview it.
 * `onReady(preview, form)` gets the accepted preview and the form data
 * holding type, name and file; `onReset()` runs when the choice changes.
 */
export function zipStep({ fixedType, fixedName, onReady, onReset }) {
  let file = null;
  const result = h("div", { class: "result", "aria-live": "polite" });
  const typeField = fixedType ? null : h("fieldset", { class: "types" },
    h("legend", {}, "Type"),
    [["skill", "Skill", "A SKILL.md with its supporting files"],
      ["agent", "Agent", "One agent markdown file"],
      ["plugin", "Plugin", "A folder with .claude-plugin/plugin.json"]].map(([value, label, hint], i) =>
      h("label", { class: "choice" },
        h("input", { type: "radio", name: "type", value, checked: i === 0, onchange: reset }),
        h("span", {}, h("strong", {}, label), h("small", {}, hint)))));
  const name = fixedName ? null : field("Name", { required: true, pattern: "[a-z0-9]+(-[a-z0-9]+)*", autocomplete: "off", spellcheck: "false" },
    "Kebab-case, like code-review. Others see it as <name>-by-<you>.");
  name?.input.addEventListener("input", reset);
  const picker = h("input", { type: "file", id: "zip-file", accept: ".zip,.skill,.md,application/zip", class: "visually-hidden" });
  const chosen = h("span", { class: "chosen" }, "No file chosen");
  const zone = h("div", { class: "dropzone", "data-testid": "dropzone" },
    h("p", {}, "Drag and drop the ZIP here (a .skill package or a lone SKILL.md works too), or"),
    h("label", { for: "zip-file", class: "button secondary" }, "Choose a ZIP file"),
    picker, chosen);
  const check = h("button", { type: "button", disabled: true }, "Check upload");

  function setFile(f) {
    file = f;
    chosen.textContent = f ? `${f.name} (${formatBytes(f.size)})` : "No file chosen";
    if (f && name && !name.input.value) name.input.value = nameFromFile(f.name);
    check.disabled = !f;
    reset();
  }
  function reset() {
    replace(result);
    onReset?.();
  }
  picker.addEventListener("change", () => setFile(picker.files[0] || null));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const f = e.dataTransfer.files[0];
    if (f) setFile(f);
  });

  const type = () => fixedType || typeField.querySelector("input:checked").value;
  check.addEventListener("click", async () => {
    const form = new FormData();
    form.set("type", type());
    form.set("name", fixedName || name.input.value.trim());
    form.set("file", file, file.name);
    check.disabled = true;
    replace(result, h("p", {}, "Checking…"));
    try {
      const preview = await api("POST", "/api/store/entities/preview", form);
      replace(result, previewResult(preview));
      onReady(preview, form);
    } catch (e) {
      replace(result, errorBox(e.message));
    } finally {
      check.disabled = false;
    }
  });

  return h("div", { class: "zip-step" }, typeField, name?.el, zone, check, result);
}

/** The details every Store entry shows; `values` pre-fills them (edit). */
export function detailsFields(values = {}) {
  const f = {
    title: field("Title", { required: true, maxlength: 200, value: values.title }),
    tagline: field("Tagline", { required: true, maxlength: 300, value: values.tagline }, "One line that says what it does."),
    description: field("Description", { multiline: true, required: true, rows: 6 }),
    category: field("Category", { required: true, maxlength: 100, value: values.category }, "For example: Code review, Testing, Docs."),
    photo_url: field("Photo URL", { type: "url", value: values.photo_url }, "Optional: an https:// link to an image."),
    video_url: field("Video URL", { type: "url", value: values.video_url }, "Optional: an https:// link to a video."),
  };
  f.description.input.value = values.description || "";
  return f;
}

export async function render(main, { navigate }) {
  const step2 = h("section", { class: "step", hidden: true, "aria-labelledby": "step2-h" });
  const details = detailsFields();
  const docs = field("Docs", { type: "file", multiple: true, accept: ".md,.txt,text/*" }, "Optional: up to 10 text files shown on the entry's page.");
  const status = h("div");
  const publish = h("button", { type: "submit" }, "Publish");
  let accepted = null;

  const step1 = zipStep({
    onReady: (preview, form) => {
      accepted = form;
      step2.hidden = false;
      if (!details.title.input.value) details.title.input.value = preview.name.replace(/-/g, " ").replace(/^./, (c) => c.toUpperCase());
    },
    onReset: () => { accepted = null; step2.hidden = true; },
  });

  replace(step2,
    h("h2", { id: "step2-h" }, "2. Describe it"),
    h("form", {
      onsubmit: async (e) => {
        e.preventDefault();
        if (!accepted) return;
        const form = new FormData();
        for (const [k, v] of accepted.entries()) form.append(k, v);
        for (const [k, f] of Object.entries(details)) form.set(k, f.input.value.trim());
        for (const d of docs.input.files) form.append("docs", d, d.name);
        publish.disabled = true;
        replace(status);
        try {
          const { entity } = await api("POST", "/api/store/entities", form);
          navigate(`/store/${entity.id}`);
        } catch (err) {
          replace(status, errorBox(err.message));
          publish.disabled = false;
        }
      },
    }, Object.values(details).map((f) => f.el), docs.el, status, publish));

  replace(main,
    h("h1", {}, "Upload to the Store"),
    h("p", { class: "lead" }, "Share a skill, an agent or a plugin with everyone in your organisation."),
    h("section", { class: "step", "aria-labelledby": "step1-h" }, h("h2", { id: "step1-h" }, "1. Choose the ZIP"), step1),
    step2);
  titled(main, "Upload");
}
