// Calls the Worker's JSON API with the session cookie. Every request carries
// the UI header, which the Worker requires of cookie-authenticated changes
// (together with a same-origin Origin) so that no other site can make them.

import { describe } from "./messages.js";

/** An API refusal: `code` for logic, `message` (a sentence) for people. */
export class ApiError extends Error {
  constructor(status, code, serverMessage) {
    super(describe(code, serverMessage));
    this.status = status;
    this.code = code;
    this.serverMessage = serverMessage;
  }
}

/** Calls `path`; JSON bodies are encoded, FormData is sent as is. */
export async function api(method, path, body) {
  const headers = { "X-Marketplace-Edge": "ui" };
  let payload;
  if (body instanceof FormData || body instanceof Blob || body instanceof ArrayBuffer) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "The server could not be reached. Check your connection and try again.");
  }
  if (resp.status === 204) return null;
  const type = resp.headers.get("Content-Type") || "";
  if (!type.startsWith("application/json")) {
    if (resp.ok) return resp;
    throw new ApiError(resp.status, "internal", `The server answered ${resp.status}.`);
  }
  const data = await resp.json();
  if (!resp.ok) {
    const err = data.error || {};
    throw new ApiError(resp.status, err.code || "internal", err.message);
  }
  return data;
}

/** A file's raw text (the Store's file viewer). */
export async function apiText(path) {
  const resp = await fetch(path, { headers: { "X-Marketplace-Edge": "ui" }, credentials: "same-origin" });
  if (!resp.ok) {
    let err = {};
    try { err = (await resp.json()).error || {}; } catch { /* not JSON */ }
    throw new ApiError(resp.status, err.code || "internal", err.message);
  }
  return new Uint8Array(await resp.arrayBuffer());
}
