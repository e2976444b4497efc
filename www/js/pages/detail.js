// A Store entry: hero, description, what it can do (its scan), files with
// a text viewer, versions (Restore for its owner and admins), docs, and
// Edit / Delete for its owner or Install / Uninstall for everyone else.

import { api, apiText } from "../api.js";
import { h, replace, formatBytes, formatTime, errorBox, toast, titled } from "../dom.js";
import { badges, scanReport } from "../scan.js";
import { typeBadge, installButton, installedIds, installsText, ratingText, statusBadge } from "./store.js";

/** The photo, or a playable video, or a link to the video. */
function media(e) {
  const parts = [];
  if (e.video_url && /\.(mp4|webm|ogg)(\?.*)?$/i.test(e.video_url)) {
    parts.push(h("video", { src: e.video_url, controls: true, poster: e.photo_url || null, class: "hero-media" }));
  } else if (e.photo_url) {
    parts.push(h("img", { src: e.photo_url, alt: `${e.title}`, class: "hero-media" }));
  }
  if (e.video_url && !parts.some((p) => p.tagName === "VIDEO")) {
    parts.push(h("p", {}, h("a", { href: e.video_url, rel: "noopener noreferrer", target: "_blank" }, "Watch the video")));
  }
  return parts;
}

function fileViewer(e, files) {
  const viewer = h("div", { class: "viewer", "aria-live": "polite" });
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const show = async (f) => {
    replace(viewer, h("p", {}, `Loading ${f.path}…`));
    try {
      const bytes = await apiText(`/api/store/entities/${e.id}/files/${f.path.split("/").map(encodeURIComponent).join("/")}`);
      let text;
      try { text = decoder.decode(bytes); } catch { text = null; }
      replace(viewer,
        h("h3", {}, f.path),
        text === null
          ? h("p", {}, `A binary file of ${formatBytes(bytes.length)}; it cannot be shown as text.`)
          : h("pre", { class: "file-content", tabindex: "0", "aria-label": `Content of ${f.path}` }, text));
    } catch (err) {
      replace(viewer, errorBox(err.message));
    }
  };
  return h("section", { "aria-labelledby": "files-h" },
    h("h2", { id: "files-h" }, "Files"),
    h("table", { class: "files" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Path"), h("th", { scope: "col", class: "num" }, "Size"))),
      h("tbody", {}, files.map((f) => h("tr", {},
        h("td", {}, h("button", { type: "button", class: "link", onclick: () => show(f), "aria-label": `View ${f.path}` }, f.path)),
        h("td", { class: "num" }, formatBytes(f.size)))))),
    viewer);
}

function ownerActions(e, navigate) {
  const confirmBox = h("div", { class: "confirm", hidden: true, role: "alertdialog", "aria-labelledby": "confirm-h" },
    h("p", { id: "confirm-h" }, `Delete “${e.title}” for good? It leaves the stack of everyone who installed it.`),
    h("button", {
      type: "button", class: "danger",
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await api("DELETE", `/api/store/entities/${e.id}`);
          toast(`Deleted ${e.title}.`);
          navigate("/store", { replace: true });
        } catch (err) {
          confirmBox.append(errorBox(err.message));
          ev.target.disabled = false;
        }
      },
    }, "Yes, delete it"),
    h("button", { type: "button", class: "secondary", onclick: () => { confirmBox.hidden = true; del.focus(); } }, "Cancel"));
  const del = h("button", { type: "button", class: "danger", onclick: () => { confirmBox.hidden = false; confirmBox.querySelector("button").focus(); } }, "Delete");
  return h("div", { class: "actions" }, h("a", { href: `/store/${e.id}/edit`, class: "button" }, "Edit"), del, confirmBox);
}

/**
 * The admins' emergency brake: Unpublish (two clicks) takes the entity out
 * of the Store and every stack at once; Restore brings it back, installs
 * and all. Everyone who can still see an unpublished entity is told.
 */
function moderation(e, user, reload) {
  const notice = e.unpublished_at
    ? h("p", { class: "warning", role: "status" },
        `Unpublished by an admin on ${formatTime(e.unpublished_at)}: it is in no one's stack and not listed in the Store. Only its owner and admins see this page.`)
    : null;
  if (!user.admin) return notice;
  const act = async (method, done) => {
    try {
      await api(method, `/api/admin/store/entities/${e.id}/unpublished`);
      toast(done);
      reload();
    } catch (err) {
      toast(err.message);
    }
  };
  if (e.unpublished_at) {
    return h("div", {}, notice, h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => act("DELETE", `Restored ${e.title}: it is back in the Store and in its installers' stacks.`) }, "Restore")));
  }
  const yes = h("button", { type: "button", class: "danger", onclick: () => act("PUT", `Unpublished ${e.title}: it left the Store and every stack.`) }, "Yes, unpublish it");
  const confirmBox = h("div", { class: "confirm", hidden: true, role: "alertdialog", "aria-labelledby": "unpublish-h" },
    h("p", { id: "unpublish-h" }, `Unpublish “${e.title}”? It leaves the Store and the stack of everyone who installed it on their next update. Installs are kept, so restoring brings it back.`),
    yes,
    h("button", { type: "button", class: "secondary", onclick: () => { confirmBox.hidden = true; arm.focus(); } }, "Cancel"));
  const arm = h("button", { type: "button", class: "secondary", onclick: () => { confirmBox.hidden = false; yes.focus(); } }, "Unpublish…");
  return h("div", { class: "actions" }, arm, confirmBox);
}

// Thumbs up or down: one vote per member, changed or withdrawn by
// pressing again. Owners see the counts but do not vote on their own.
function votes(e, myRating, canVote) {
  const counts = h("span", {}, ratingText(e));
  const status = h("div", { role: "status", class: "visually-hidden" });
  if (!canVote) return h("div", { class: "votes" }, counts);
  let mine = myRating;
  const buttons = [];
  const paint = () => {
    for (const b of buttons) b.setAttribute("aria-pressed", String(Number(b.dataset.value) === mine));
    replace(counts, ratingText(e));
  };
  const press = (value) => async (ev) => {
    const btn = ev.currentTarget;
    btn.disabled = true;
    try {
      const r = mine === value
        ? await api("DELETE", `/api/store/entities/${e.id}/rating`)
        : await api("PUT", `/api/store/entities/${e.id}/rating`, { value });
      e.rating_up = r.rating_up;
      e.rating_down = r.rating_down;
      mine = r.my_rating;
      paint();
      replace(status, mine === null ? "Your vote is withdrawn." : `You voted ${mine === 1 ? "up" : "down"}.`);
    } catch (err) {
      toast(err.message);
    } finally {
      btn.disabled = false;
    }
  };
  for (const [value, text] of [[1, "▲ Useful"], [-1, "▼ Not useful"]]) {
    buttons.push(h("button", { type: "button", class: "secondary", dataset: { value }, onclick: press(value) }, text));
  }
  paint();
  return h("div", { class: "votes", role: "group", "aria-label": `Rate ${e.title}` }, ...buttons, counts, status);
}

// What its owner (and admins) see of review: an entry waiting or refused,
// or a new version waiting or refused while installers keep the approved one.
function reviewNotice(e, mine) {
  const v = e.latest_version;
  const why = (r) => (r ? ` The reviewer said: “${r}”.` : "");
  if (e.status === "pending") {
    return h("p", { class: "warning", role: "status" }, mine
      ? "Waiting for an admin's review: only you and admins see it until it is approved."
      : "Waiting for review: it is listed for no one else and cannot be installed until it is approved.");
  }
  if (e.status === "rejected") {
    return h("p", { class: "warning", role: "status" }, `Not approved by ${v?.reviewed_by || "an admin"}.${why(v?.reason)} Upload a new version to ask again.`);
  }
  if (v && v.version !== e.version && v.status === "pending") {
    return h("p", { class: "notice", role: "status" }, `Version ${v.version} waits for review; installers keep version ${e.version} until it is approved.`);
  }
  if (v && v.version !== e.version && v.status === "rejected") {
    return h("p", { class: "warning", role: "status" }, `Version ${v.version} was not approved by ${v.reviewed_by || "an admin"}.${why(v.reason)} Installers keep version ${e.version}.`);
  }
  return null;
}

const VERSION_STATUS = { approved: "", pending: " · waiting for review", rejected: " · not approved" };

// The entry's kept versions, newest first; its owner and admins restore
// an earlier one (served at once, as a new version).
function versionsSection(e, canRestore, reload) {
  const list = h("ol", { class: "versions", reversed: true });
  const status = h("div", { role: "status" });
  api("GET", `/api/store/entities/${e.id}/versions`).then((r) => {
    replace(list, r.versions.map((v) => h("li", {},
      h("strong", {}, `Version ${v.version}`),
      v.version === r.current ? " (current)" : "",
      ` · ${formatTime(v.created_at)}`,
      v.restored_from ? ` · restored from version ${v.restored_from}` : "",
      VERSION_STATUS[v.status] || "",
      v.reviewed_by ? ` · reviewed by ${v.reviewed_by}` : "",
      v.reason ? ` · “${v.reason}”` : "",
      " ", badges(v.badges),
      canRestore && v.version !== r.current && v.status === "approved"
        ? h("button", {
            type: "button", class: "secondary", "aria-label": `Restore version ${v.version}`,
            onclick: async (ev) => {
              ev.target.disabled = true;
              try {
                const done = await api("POST", `/api/store/entities/${e.id}/versions/${v.version}/restore`);
                toast(`Version ${v.version} is served again, as version ${done.version}.`);
                reload();
              } catch (err) {
                replace(status, errorBox(err.message));
                ev.target.disabled = false;
              }
            },
          }, "Restore")
        : null)));
  }).catch((err) => replace(status, errorBox(err.message)));
  return h("section", { "aria-labelledby": "versions-h" },
    h("h2", { id: "versions-h" }, "Versions"),
    list, status);
}

export async function render(main, { user, params, navigate }) {
  const [detail, installed] = await Promise.all([
    api("GET", `/api/store/entities/${params[0]}`),
    installedIds(),
  ]);
  const e = detail.entity;
  const mine = e.owner === user.username;
  const installs = h("span", {}, installsText(e));
  const served = e.status === "approved" && !e.unpublished_at;
  replace(main,
    h("p", { class: "crumbs" }, h("a", { href: "/store" }, "Store"), " / ", e.title),
    h("section", { class: "hero" },
      h("div", { class: "hero-text" },
        h("h1", {}, e.title),
        h("p", { class: "tagline" }, e.tagline),
        h("p", { class: "meta" },
          typeBadge(e.type), " ", e.category, " · by ",
          h("a", { href: `/store?owner=${encodeURIComponent(e.owner)}` }, e.owner),
          mine ? h("span", { class: "yours" }, "yours") : null,
          " ", statusBadge(e),
          ` · version ${e.version} · `, installs, ` · updated ${formatTime(e.updated_at)}`),
        h("p", { class: "meta" }, "Served as ", h("code", {}, e.served_name), " ", badges(e.badges)),
        reviewNotice(e, mine),
        moderation(e, user, () => navigate(location.pathname, { replace: true })),
        served || mine ? votes(e, detail.my_rating, served && !mine) : null,
        mine
          ? ownerActions(e, navigate)
          // Only what is served can be installed.
          : served ? h("div", { class: "actions" }, installButton(e, installed.has(e.id), (now) => {
              e.installs += now ? 1 : -1;
              e.installs_30d = Math.max(0, (e.installs_30d || 0) + (now ? 1 : -1));
              installs.textContent = installsText(e);
            })) : null),
      h("div", { class: "hero-aside" }, media(e))),
    h("section", { "aria-labelledby": "about-h" },
      h("h2", { id: "about-h" }, "About"),
      h("div", { class: "description" }, e.description)),
    scanReport(e.capabilities, e.findings),
    fileViewer(e, detail.files),
    versionsSection(e, mine || user.admin, () => navigate(location.pathname, { replace: true })),
    detail.docs.length
      ? h("section", { "aria-labelledby": "docs-h" },
          h("h2", { id: "docs-h" }, "Docs"),
          detail.docs.map((d) => h("article", { class: "doc" }, h("h3", {}, d.name), h("pre", { tabindex: "0", "aria-label": d.name }, d.content))))
      : null);
  titled(main, e.title);
}
