// The group × plugin access matrix, with grants per cell and per marketplace.

import { h, replace, titled } from "../dom.js";
import { accessMatrix } from "./admin-common.js";

export async function render(main) {
  const container = h("div");
  replace(main,
    h("h1", {}, "Access matrix"),
    h("p", { class: "lead" }, "Grant plugins to groups. Available plugins can be switched off by each member; required ones cannot. A row “all plugins” sets a whole marketplace at once."),
    container);
  await accessMatrix(container);
  titled(main, "Access matrix");
}
