// Talking to the venue's API: every request carries the session's token, and both shapes of error it answers
// with are read here. No DOM: the session decides what a refused token means (whenUnauthorized).

export const REFUSED = "The venue did not accept the token; sign in again.";

export class Unauthorized extends Error {}

let token = null;
let unauthorized = () => {};

export function setToken(value) {
  token = value;
}

export function currentToken() {
  return token;
}

// Called with REFUSED when the API answers 401: the token was revoked, or the venue restarted with a new one.
export function whenUnauthorized(handler) {
  unauthorized = handler;
}

export async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set("Authorization", `Bearer ${token}`);
  const init = { method: options.method || "GET", headers, cache: "no-store" };
  if (options.json !== undefined) {
    headers.set("Content-Type", "application/json");
    init.body = JSON.stringify(options.json);
  } else if (options.body !== undefined) {
    headers.set("Content-Type", "application/json");
    init.body = options.body;
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    unauthorized(REFUSED);
    throw new Unauthorized();
  }
  return response;
}

// What a token typed into the sign-in form is worth: null when it may run the dashboard, else why not. A plain
// fetch rather than api(): a wrong guess is not a session whose token was refused.
export async function checkToken(candidate) {
  let response;
  try {
    response = await fetch("/api/v1/state", { headers: { Authorization: `Bearer ${candidate}` }, cache: "no-store" });
  } catch {
    return "Cannot reach the venue controller.";
  }
  if (response.status === 401) return "That token was not accepted.";
  if (response.status === 403) return "That token belongs to a community; the dashboard needs the venue's admin token.";
  if (!response.ok) return `The venue answered ${response.status}.`;
  return null;
}

// The body as JSON; a proxy's HTML error page or an empty body becomes {detail: its text}.
export async function bodyOf(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text || response.statusText };
  }
}

export function detailText(detail) {
  if (detail === undefined || detail === null) return "";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => fieldError(d)).map((e) => `${e.path}: ${e.message}`).join("; ");
  return JSON.stringify(detail);
}

export function fieldError(d) {
  // Our API: {"path","message"}; FastAPI's own request validation: {"loc": [...], "msg"}.
  if (d && typeof d === "object") {
    let path = d.path;
    if (path === undefined && Array.isArray(d.loc)) path = d.loc.filter((p) => p !== "body").join(".");
    return { path: String(path ?? ""), message: String(d.message ?? d.msg ?? JSON.stringify(d)) };
  }
  return { path: "", message: String(d) };
}
