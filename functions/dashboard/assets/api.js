// The caller's session and the API client.
//
// The session is the caller's JWT. In AWS the platform opens the dashboard with the JWT in the
// URL's fragment (`/api/zoom/dashboard#token=<JWT>`): a fragment is never sent to any server
// (not in the request, not in a Referer), and the page removes it from the address bar and the
// history at once. The JWT is then kept in sessionStorage (this tab only, gone when it closes)
// and sent only to this origin's API, as `Authorization: Bearer`.

const STORAGE_KEY = "zoom-dashboard.session";

/** Reads `#token=…` (and an optional `view=…`) from the fragment, keeps the token, and removes
 * both from the URL. Returns the view named, if any. */
export function takeTokenFromFragment() {
  const fragment = location.hash.replace(/^#/, "");
  if (!fragment.includes("token=")) return null;
  const params = new URLSearchParams(fragment);
  const token = params.get("token");
  const view = params.get("view");
  if (token) setToken(token);
  history.replaceState(null, "", location.pathname + location.search + (view ? `#${view}` : ""));
  return view;
}

/** The caller's JWT, if this tab has one. */
export function token() {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** Keeps the caller's JWT for this tab. */
export function setToken(value) {
  sessionStorage.setItem(STORAGE_KEY, value);
}

/** Forgets the caller's JWT. */
export function clearToken() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** The JWT's claims (for display only: the API verifies the token, the page never trusts it). */
export function claims(jwt = token()) {
  if (!jwt) return null;
  const part = jwt.split(".")[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** Whether the session's token has passed its `exp`. */
export function expired(jwt = token()) {
  const exp = claims(jwt)?.exp;
  return typeof exp === "number" && exp * 1000 <= Date.now();
}

/** An error answer of the API: an RFC 9457 problem (`title`, `detail`, field `errors`). */
export class Problem extends Error {
  constructor(status, body, headers) {
    const problem = body && typeof body === "object" ? body : {};
    const title =
      typeof problem.title === "string" && problem.title
        ? problem.title
        : status === 0
          ? "The API could not be reached"
          : `The API answered ${status}`;
    super(title);
    this.status = status;
    this.title = title;
    this.detail =
      typeof problem.detail === "string"
        ? problem.detail
        : typeof problem.message === "string"
          ? problem.message
          : status === 0
            ? "Check the network connection, then try again."
            : "";
    this.type = problem.type || null;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.needsReauth = problem.needs_reauth === true;
    this.retryAfter = retryAfter(headers, problem.retry_after);
  }
}

/** Seconds to wait from a `Retry-After` header (or a body's `retry_after`), if any. */
export function retryAfter(headers, fallback) {
  const header = headers?.get?.("Retry-After");
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds;
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - Date.now()) / 1000));
  }
  return Number.isFinite(fallback) ? fallback : null;
}

const listeners = new Set();

/** Calls `callback(problem)` on every 401 the API answers (the session ended, or Zoom must be
 * authorized again). */
export function onUnauthorized(callback) {
  listeners.add(callback);
}

/**
 * Calls our API: `method` on `path` (always `/api/…` of this origin), with `query` parameters
 * (empty ones left out), a JSON `body` and extra `headers`. Resolves to `{status, data, headers}`
 * for 1xx–3xx answers; rejects with a {@link Problem} for 4xx/5xx and network failures.
 */
export async function api(method, path, { query, body, headers } = {}) {
  if (!path.startsWith("/api/")) throw new Error(`not an API path: ${path}`);
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const sent = new Headers(headers || {});
  sent.set("Accept", "application/json, application/problem+json");
  const jwt = token();
  if (jwt) sent.set("Authorization", `Bearer ${jwt}`);
  if (body !== undefined) sent.set("Content-Type", "application/json");
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      redirect: "manual",
    });
  } catch {
    throw new Problem(0, null, null);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.type === "opaqueredirect") {
    throw new Problem(0, { title: "Unexpected redirect", detail: `${method} ${path} answered a redirect the page cannot follow.` }, null);
  }
  if (response.status >= 400) {
    const problem = new Problem(response.status, data, response.headers);
    if (response.status === 401) for (const listener of listeners) listener(problem);
    throw problem;
  }
  return { status: response.status, data, headers: response.headers };
}

/** A random `Idempotency-Key` (122 random bits). */
export function idempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
