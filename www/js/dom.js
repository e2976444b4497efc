// Building the page from data. Every string users wrote is inserted as a
// text node (never as HTML), so a title or a file cannot inject markup.

/** Creates an element: h("a", {href: "/x", class: "c"}, "text", child…). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === "class") {
      el.className = v;
    } else if (k === "dataset") {
      Object.assign(el.dataset, v);
    } else if (v === true) {
      el.setAttribute(k, "");
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

/** Appends children (strings become text nodes; arrays are flattened). */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Human size: 1.2 kB, 3.4 MB. */
export function formatBytes(n) {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** A Unix time in seconds as a local date and time. */
export function formatTime(seconds) {
  if (!seconds) return "never";
  return new Date(seconds * 1000).toLocaleString();
}

/** A labelled text input (label wraps nothing: `for` ties them). */
export function field(label, attrs = {}, hint) {
  const id = attrs.id || `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  const input = h(attrs.multiline ? "textarea" : "input", { ...attrs, multiline: null, id, name: attrs.name || id });
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return {
    input,
    el: h("div", { class: "field" },
      h("label", { for: id }, label),
      input,
      hint ? h("p", { class: "hint", id: hintId }, hint) : null),
  };
}

/** A labelled select. */
export function select(label, options, attrs = {}) {
  const id = attrs.id || `s-${label.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  const el = h("select", { ...attrs, id, name: attrs.name || id },
    options.map(([value, text]) => h("option", { value }, text)));
  return { input: el, el: h("div", { class: "field" }, h("label", { for: id }, label), el) };
}

/** Shows a short message in the polite live region. */
export function toast(message) {
  const t = document.getElementById("toast");
  t.textContent = message;
  t.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("show"), 4000);
}

/** An alert box for an error (role=alert is announced). */
export function errorBox(message) {
  return h("div", { class: "error", role: "alert" }, message);
}

/** A "Copy" button for `text`; `label` names what it copies, for screen readers. */
export function copyButton(text, label = "Copy") {
  return h("button", {
    type: "button", class: "secondary", "aria-label": label,
    onclick: async (e) => {
      try {
        await navigator.clipboard.writeText(text);
        e.target.textContent = "Copied";
      } catch {
        e.target.textContent = "Select and copy by hand";
      }
    },
  }, "Copy");
}

/** Sets the document title and focuses the heading for screen readers. */
export function titled(main, title) {
  document.title = `${title} · marketplace-edge`;
  const h1 = main.querySelector("h1");
  if (h1) h1.setAttribute("tabindex", "-1");
}
