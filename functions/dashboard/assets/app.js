// The Zoom dashboard: five views over the connector's public API (Connect, Meetings, Users,
// Recordings, Analytics), plus sign-in. Every piece of user data arrives from the API and is put
// on the page as text (textContent), never as markup. Navigation is by fragment (#meetings), so
// the back button and links work and no request ever carries the view.

import {
  api,
  claims,
  clearToken,
  expired,
  idempotencyKey,
  onUnauthorized,
  Problem,
  retryAfter,
  setToken,
  takeTokenFromFragment,
  token,
} from "./api.js";
import { dayChart } from "./charts.js";

// ------------------------------------------------------------------ helpers

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** An element with attributes and children (strings become text, never markup). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const srOnly = (text) => el("span", { class: "sr-only" }, text);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const numbers = new Intl.NumberFormat();
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

function formatDateTime(iso) {
  const ms = Date.parse(iso || "");
  return Number.isNaN(ms) ? "—" : dateTime.format(new Date(ms));
}

function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

function relative(iso) {
  const ms = Date.parse(iso || "");
  if (Number.isNaN(ms)) return "";
  const minutes = Math.round((ms - Date.now()) / 60000);
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  if (Math.abs(minutes) < 90) return format.format(minutes, "minute");
  const hours = Math.round(minutes / 60);
  if (Math.abs(hours) < 48) return format.format(hours, "hour");
  return format.format(Math.round(hours / 24), "day");
}

/** Today as yyyy-mm-dd in UTC (the API's dates are UTC days), and `days` from a date. */
function todayUtc() {
  return new Date().toISOString().slice(0, 10);
}

function addDays(date, days) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The offset (ms) of `timeZone` from UTC at the instant `utcMs`. Throws for an unknown zone. */
function zoneOffset(utcMs, timeZone) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(utcMs));
  const part = (type) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(part("year"), part("month") - 1, part("day"), part("hour") % 24, part("minute"), part("second"));
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** A wall time ("yyyy-mm-ddThh:mm" of a datetime-local input) in `timeZone`, as RFC 3339 UTC.
 * An unknown zone falls back to the browser's own (the API then names the bad zone). */
export function zonedToUtc(local, timeZone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local || "");
  if (!m) return null;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] || 0));
  let utc;
  try {
    utc = wall - zoneOffset(wall, timeZone || "UTC");
    utc = wall - zoneOffset(utc, timeZone || "UTC");
  } catch {
    utc = new Date(local).getTime();
  }
  return Number.isNaN(utc) ? null : new Date(utc).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** An RFC 3339 instant as the wall time of `timeZone`, for a datetime-local input. */
function utcToZoned(iso, timeZone) {
  const ms = Date.parse(iso || "");
  if (Number.isNaN(ms)) return "";
  try {
    const shifted = new Date(ms + zoneOffset(ms, timeZone || "UTC"));
    return shifted.toISOString().slice(0, 16);
  } catch {
    return new Date(ms).toISOString().slice(0, 16);
  }
}

function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Shows `problem`'s title and detail (and field errors no field took) in `box`; `box` gets
 * role=alert so the message is announced. `extra` is appended (a link, say). */
function showProblem(box, problem, { leftover = problem?.errors || [], extra } = {}) {
  if (!box) return;
  const p = problem instanceof Problem ? problem : new Problem(0, { title: "Something went wrong", detail: String(problem?.message || problem) });
  const children = [el("strong", { text: p.title })];
  if (p.detail) children.push(el("p", { text: p.detail }));
  if (leftover.length) {
    children.push(el("ul", {}, leftover.map((e) => el("li", { text: `${e.field}: ${e.message}` }))));
  }
  if (p.retryAfter && p.status >= 429) children.push(el("p", { text: `Try again in ${p.retryAfter} s.` }));
  if (p.status === 409 && currentView !== "connect") {
    children.push(el("p", {}, el("a", { href: "#connect", text: "See the Zoom connection" })));
  }
  if (p.needsReauth) children.push(el("p", {}, el("a", { href: "#connect", text: "Authorize Zoom again" })));
  if (extra) children.push(extra);
  box.replaceChildren(el("div", { class: "problem", role: "alert" }, children));
}

function clearProblem(box) {
  box?.replaceChildren();
}

/** A status line: text, and a spinner while `busy`. */
function setStatus(node, text, busy = false) {
  node.textContent = text;
  node.classList.toggle("loading", busy);
}

let bannerShown = 0;

/** A message about the whole page, at the top of the main region (until the person moves to
 * another view). */
function banner(text, { kind = "ok", detail } = {}) {
  const box = $("#banner");
  bannerShown = Date.now();
  if (!text) return box.replaceChildren();
  const message =
    kind === "error"
      ? el("div", { class: "problem", role: "alert" }, el("strong", { text }), detail ? el("p", { text: detail }) : null)
      : el("div", { class: `notice ${kind === "info" ? "info" : ""}` }, el("strong", { text }), detail ? el("p", { text: detail }) : null);
  box.replaceChildren(message);
}

/** Asks for confirmation in a modal dialog; resolves true when confirmed. Focus starts on
 * Cancel (the safe choice) and returns to where it was. */
function confirmDialog({ title, text, ok }) {
  const dialog = $("#confirm");
  const opener = document.activeElement;
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = ok;
  return new Promise((resolve) => {
    const finish = (value) => {
      $("#confirm-ok").onclick = null;
      $("#confirm-cancel").onclick = null;
      dialog.oncancel = null;
      dialog.close();
      if (opener && document.contains(opener)) opener.focus();
      resolve(value);
    };
    $("#confirm-ok").onclick = () => finish(true);
    $("#confirm-cancel").onclick = () => finish(false);
    dialog.oncancel = (event) => {
      event.preventDefault();
      finish(false);
    };
    dialog.showModal();
    $("#confirm-cancel").focus();
  });
}

/** Clears a form's field errors. */
function clearFieldErrors(form) {
  for (const input of $$("[aria-invalid]", form)) input.removeAttribute("aria-invalid");
  for (const message of $$(".field-error", form)) {
    message.textContent = "";
    message.hidden = true;
  }
}

/** Puts each `{field, message}` next to the input named `field` in `form`; returns the errors
 * no input took. Focus goes to the first invalid input. */
function showFieldErrors(form, errors) {
  const leftover = [];
  let first = null;
  for (const error of errors) {
    const input = form.elements.namedItem(error.field);
    const message = input?.id ? document.getElementById(`${input.id}-error`) : null;
    if (!message) {
      leftover.push(error);
      continue;
    }
    message.textContent = message.hidden ? error.message : `${message.textContent} ${error.message}`;
    message.hidden = false;
    input.setAttribute("aria-invalid", "true");
    const described = new Set((input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
    described.add(message.id);
    input.setAttribute("aria-describedby", [...described].join(" "));
    first ??= input;
  }
  first?.focus();
  return leftover;
}

const isLoopback = () => ["localhost", "127.0.0.1", "[::1]"].includes(location.hostname);

// ------------------------------------------------------------------ views and navigation

const views = {};
let currentView = null;

/** Shows the view the fragment names (sign-in without a session). `moveFocus`: after the
 * person navigated, focus goes to the view's heading so a screen reader starts there. */
function route(moveFocus = false) {
  const wanted = location.hash.replace(/^#/, "") || "connect";
  const signedIn = Boolean(token()) && !expired();
  const name = !signedIn ? "signin" : views[wanted] && wanted !== "signin" ? wanted : "connect";
  $("#booting").hidden = true;
  $("#nav").hidden = !signedIn;
  $("#session").hidden = !signedIn;
  if (signedIn) {
    const c = claims() || {};
    $("#session-tenant").textContent = c.sub || "unknown tenant";
    $("#session-expiry").textContent = c.exp ? `· session until ${timeOnly.format(new Date(c.exp * 1000))}` : "";
  }
  for (const link of $$("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const section of $$(".view")) section.hidden = section.id !== `view-${name}`;
  const previous = currentView;
  currentView = name;
  const heading = $(`#view-${name} h1`);
  document.title = `${heading?.textContent || "Dashboard"} · Zoom dashboard`;
  if (previous && previous !== name) views[previous]?.hide?.();
  views[name].show();
  if (moveFocus) heading?.focus();
}

window.addEventListener("hashchange", () => {
  // A message stays for the view it was about, not the next one.
  if (Date.now() - bannerShown > 1500) $("#banner").replaceChildren();
  route(true);
});

onUnauthorized((problem) => {
  if (problem.needsReauth) {
    banner("Zoom must be authorized again", { kind: "error", detail: problem.detail || "Open Connect and authorize Zoom again." });
    return;
  }
  clearToken();
  banner("Your session has ended", { kind: "error", detail: `${problem.title}: ${problem.detail}` });
  route();
});

$("#sign-out").addEventListener("click", () => {
  clearToken();
  banner("Signed out.", { kind: "info" });
  history.replaceState(null, "", location.pathname);
  route(true);
});

// ------------------------------------------------------------------ sign in

views.signin = {
  show() {
    $("#signin-dev").hidden = !isLoopback();
  },
};

$("#dev-token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const box = $("[data-problem]", form);
  clearFieldErrors(form);
  clearProblem(box);
  const button = $("button[type=submit]", form);
  button.disabled = true;
  try {
    const body = { tenant: form.elements.tenant.value };
    if (form.elements.zoom_user.value.trim()) body.zoom_user = form.elements.zoom_user.value.trim();
    if (form.elements.zoom_scope.checked) body.zoom_scope = "account";
    const { data } = await api("POST", "/api/zoom/dashboard/dev-token", { body });
    setToken(data.token);
    banner(`Signed in as ${data.tenant}`, { kind: "info", detail: "A development token of the local stack, valid until " + formatDateTime(data.expires_at) + "." });
    location.hash = "#connect";
    route(true);
  } catch (problem) {
    showProblem(box, problem, { leftover: showFieldErrors(form, problem.errors || []) });
  } finally {
    button.disabled = false;
  }
});

// ------------------------------------------------------------------ connect

const CONNECT_REASONS = {
  access_denied: "The authorization was declined at Zoom.",
  invalid_request: "Zoom's answer was incomplete.",
  invalid_state: "This connection attempt expired, was used already, or was started in another browser. Start it again.",
  exchange_failed: "Zoom refused the authorization.",
  zoom_unavailable: "Zoom could not be reached. Try again in a moment.",
  server_error: "The connection could not be stored. Try again in a moment.",
  zoom_error: "Zoom reported an error.",
};

let lastStatus = null;

views.connect = {
  async show({ verify = false } = {}) {
    const status = $("#connect-status");
    const box = $("#view-connect [data-problem]");
    clearProblem(box);
    setStatus(status, verify ? "Checking the connection with Zoom…" : "Loading the connection…", true);
    $("#connection").setAttribute("aria-busy", "true");
    try {
      const { data } = await api("GET", "/api/zoom/connection-status", { query: { verify: verify ? "true" : "" } });
      lastStatus = data;
      renderConnection(data);
      setStatus(status, data.connected ? (data.needs_reauth ? "Zoom must be authorized again." : "Zoom is connected.") : "Zoom is not connected.");
    } catch (problem) {
      setStatus(status, "");
      showProblem(box, problem);
    } finally {
      $("#connection").removeAttribute("aria-busy");
    }
  },
};

function renderConnection(s) {
  const badge = !s.connected
    ? el("span", { class: "badge bad", text: "Not connected" })
    : s.needs_reauth
      ? el("span", { class: "badge warn", text: "Needs re-authorization" })
      : el("span", { class: "badge ok", text: "Connected" });
  const rows = [
    ["Status", badge],
    ["Mode", s.oauth_mode === "server_to_server" ? "Server-to-Server OAuth (set up by the platform)" : "User OAuth"],
  ];
  if (s.connected) {
    rows.push(
      ["Reaches", s.reach === "account" ? "The whole Zoom account" : "Its Zoom user's meetings and recordings"],
      ["Zoom user", s.email ? `${s.email} (${s.zoom_user_id || "—"})` : s.zoom_user_id || "—"],
      ["Zoom account", s.zoom_account_id || "—"],
      [
        "Scopes",
        s.scopes?.length ? el("ul", { class: "scopes", "aria-label": "Granted scopes" }, s.scopes.map((scope) => el("li", { text: scope }))) : "—",
      ],
      ["Token expires", s.token_expires_at ? `${formatDateTime(s.token_expires_at)} (${relative(s.token_expires_at)})` : "—"],
      ["Connected since", formatDateTime(s.connected_at)],
      ["Needs re-authorization", s.needs_reauth ? "Yes: connect again to restore access" : "No"],
    );
    if (s.verified) {
      rows.push([
        "Checked with Zoom",
        s.verified.ok ? `OK at ${formatDateTime(s.verified.checked_at)}` : `Failed at ${formatDateTime(s.verified.checked_at)}`,
      ]);
    }
  }
  const list = el("dl", { class: "facts" });
  for (const [name, value] of rows) list.append(el("dt", { text: name }), el("dd", {}, value));
  $("#connection").replaceChildren(list);
  const userMode = s.oauth_mode !== "server_to_server";
  const connect = $("#connect-button");
  connect.hidden = !userMode;
  connect.textContent = !s.connected ? "Connect Zoom" : s.needs_reauth ? "Authorize Zoom again" : "Reconnect Zoom";
  $("#disconnect-button").hidden = !s.connected;
  $("#verify-button").hidden = !s.connected;
}

$("#connect-button").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const box = $("#view-connect [data-problem]");
  clearProblem(box);
  button.disabled = true;
  setStatus($("#connect-status"), "Starting the connection…", true);
  try {
    // Same-origin: the answer sets the cookie that binds this flow to this browser; Zoom sends
    // the browser back to our callback, which lands on this page with ?zoom=connected.
    const { data } = await api("GET", "/api/zoom/auth/authorize");
    const url = new URL(data.authorize_url);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Problem(0, { title: "Unexpected authorize URL", detail: url.protocol });
    setStatus($("#connect-status"), "Opening Zoom…", true);
    location.assign(url.href);
  } catch (problem) {
    setStatus($("#connect-status"), "");
    showProblem(box, problem);
    button.disabled = false;
  }
});

$("#verify-button").addEventListener("click", () => views.connect.show({ verify: true }));

$("#disconnect-button").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const confirmed = await confirmDialog({
    title: "Disconnect Zoom?",
    text: "The connection is removed and everything stored for it is deleted: meetings, analytics and archived recordings. You can connect again later.",
    ok: "Disconnect",
  });
  if (!confirmed) return;
  const box = $("#view-connect [data-problem]");
  clearProblem(box);
  button.disabled = true;
  setStatus($("#connect-status"), "Disconnecting…", true);
  try {
    const { data } = await api("POST", "/api/zoom/auth/disconnect");
    const detail =
      data.revoked_at_zoom === false && data.was_connected
        ? `Our copy was removed, but Zoom did not confirm the revocation${data.revoke_error ? `: ${data.revoke_error}` : "."}`
        : data.was_connected
          ? "The token was revoked at Zoom and the stored data is being deleted."
          : "There was no connection.";
    banner("Zoom disconnected", { detail });
    await views.connect.show();
    $("#connect-button").focus();
  } catch (problem) {
    setStatus($("#connect-status"), "");
    showProblem(box, problem);
  } finally {
    button.disabled = false;
  }
});

/** The OAuth callback brings the browser back with ?zoom=connected or ?zoom=error&reason=…. */
function takeConnectOutcome() {
  const query = new URLSearchParams(location.search);
  const outcome = query.get("zoom");
  if (!outcome) return false;
  if (outcome === "connected") banner("Zoom connected", { detail: "The dashboard now shows this Zoom account." });
  else banner("Zoom was not connected", { kind: "error", detail: CONNECT_REASONS[query.get("reason")] || `Reason: ${query.get("reason") || "unknown"}.` });
  history.replaceState(null, "", location.pathname + "#connect");
  return true;
}

// ------------------------------------------------------------------ meetings

const STATUS_LABEL = { scheduled: "Scheduled", live: "Live", completed: "Ended", cancelled: "Cancelled" };
const KIND_LABEL = { upcoming: "upcoming", live: "live", previous_meetings: "previous" };

const meetings = {
  kind: "upcoming",
  items: [],
  next: "",
  live: new Set(),
  editing: null,
  pending: null,
  timer: null,
};

views.meetings = {
  show() {
    loadMeetings();
    clearInterval(meetings.timer);
    // Live status changes come from Zoom's webhooks: look again every 30 s while shown.
    meetings.timer = setInterval(() => {
      if (currentView === "meetings" && document.visibilityState === "visible") loadMeetings({ quiet: true });
    }, 30000);
  },
  hide() {
    clearInterval(meetings.timer);
  },
};

async function loadMeetings({ more = false, refresh = false, quiet = false } = {}) {
  const status = $("#meetings-status");
  const list = $("#meetings-list");
  const box = $("#meetings-problem");
  const kind = meetings.kind;
  if (!quiet) {
    clearProblem(box);
    setStatus(status, `Loading ${KIND_LABEL[kind]} meetings…`, true);
    list.setAttribute("aria-busy", "true");
    if (!more) list.replaceChildren();
  }
  try {
    const page = api("GET", "/api/zoom/meetings", {
      query: { type: kind, page_size: 30, next_page_token: more ? meetings.next : "", refresh: refresh ? "true" : "" },
    });
    // A list item's own status is Zoom's summary: the live list says which are running now.
    const live = kind === "upcoming" ? api("GET", "/api/zoom/meetings", { query: { type: "live", page_size: 300 } }).catch(() => null) : null;
    const [{ data }, liveAnswer] = await Promise.all([page, live]);
    if (kind !== meetings.kind) return;
    if (liveAnswer) meetings.live = new Set(liveAnswer.data.meetings.map((m) => m.id));
    meetings.items = more ? meetings.items.concat(data.meetings) : data.meetings;
    meetings.next = data.next_page_token || "";
    renderMeetings();
    const count = meetings.items.length;
    setStatus(
      status,
      count === 0
        ? `No ${KIND_LABEL[kind]} meetings.`
        : `${count} ${KIND_LABEL[kind]} meeting${count === 1 ? "" : "s"}${meetings.next ? " (more available)" : ""}. Updated ${timeOnly.format(new Date())}.`,
    );
  } catch (problem) {
    if (quiet) return;
    setStatus(status, "");
    showProblem(box, problem);
  } finally {
    list.removeAttribute("aria-busy");
  }
}

function meetingStatus(m) {
  if (meetings.kind === "live" || meetings.live.has(m.id)) return "live";
  if (meetings.kind === "previous_meetings") return "completed";
  return m.status || "scheduled";
}

function renderMeetings() {
  const list = $("#meetings-list");
  if (!meetings.items.length) {
    list.replaceChildren(el("li", { class: "empty", text: `No ${KIND_LABEL[meetings.kind]} meetings.` }));
  } else {
    list.replaceChildren(...meetings.items.map(meetingItem));
  }
  $("#meetings-more").hidden = !meetings.next;
}

function meetingItem(m) {
  const status = meetingStatus(m);
  const previous = meetings.kind === "previous_meetings";
  const facts = [
    m.start_time ? formatDateTime(m.start_time) : "No fixed time",
    Number.isFinite(m.duration) ? `${m.duration} min` : null,
    m.timezone,
    `ID ${m.id}`,
  ].filter(Boolean);
  const actions = [];
  const join = safeUrl(m.join_url);
  if (join && !previous) {
    actions.push(el("a", { class: "button secondary", href: join, target: "_blank", rel: "noopener noreferrer" }, "Join", srOnly(` ${m.topic}`)));
  }
  if (!previous) {
    actions.push(
      el("button", { type: "button", class: "secondary", onclick: () => openEditor(m) }, "Edit", srOnly(` ${m.topic}`)),
      el("button", { type: "button", class: "danger", onclick: () => deleteMeeting(m) }, "Delete", srOnly(` ${m.topic}`)),
    );
  }
  return el(
    "li",
    { class: "item", "data-meeting-id": m.id, "data-status": status },
    el("div", { class: "item-head" }, el("h2", { text: m.topic || "(no topic)" }), el("span", { class: `badge ${status}`, text: STATUS_LABEL[status] || status })),
    el("p", { class: "meta", text: facts.join(" · ") }),
    m.agenda ? el("p", { class: "meta", text: m.agenda }) : null,
    actions.length ? el("div", { class: "actions" }, actions) : null,
  );
}

/** An http(s) URL from an answer, or null (never a javascript: or data: link). */
function safeUrl(value) {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

for (const button of $$("#view-meetings [data-kind]")) {
  button.addEventListener("click", () => {
    for (const other of $$("#view-meetings [data-kind]")) other.setAttribute("aria-pressed", String(other === button));
    meetings.kind = button.dataset.kind;
    meetings.next = "";
    loadMeetings();
  });
}

$("#meetings-refresh").addEventListener("click", () => loadMeetings({ refresh: true }));
$("#meetings-more").addEventListener("click", () => loadMeetings({ more: true }));
$("#new-meeting").addEventListener("click", () => openEditor(null));
$("#meeting-cancel").addEventListener("click", closeEditor);

function fillTimezones() {
  const list = $("#timezones");
  if (list.children.length) return;
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC", "Europe/London", "Europe/Paris", "America/New_York"];
  list.append(...zones.map((zone) => el("option", { value: zone })));
}

async function openEditor(meeting) {
  fillTimezones();
  const form = $("#meeting-form");
  const box = $("[data-problem]", form);
  form.reset();
  clearFieldErrors(form);
  clearProblem(box);
  meetings.editing = null;
  meetings.pending = null;
  $("#meeting-editor").hidden = false;
  $("#new-meeting").hidden = true;
  const title = $("#meeting-form-title");
  if (!meeting) {
    title.textContent = "New meeting";
    $("#meeting-submit").textContent = "Create meeting";
    const zone = browserTimeZone();
    const start = new Date(Date.now() + 3600_000);
    start.setMinutes(0, 0, 0);
    form.elements.timezone.value = zone;
    form.elements.start_time.value = utcToZoned(start.toISOString(), zone);
    form.elements.duration.value = "30";
    form.elements.topic.focus();
    return;
  }
  title.textContent = `Edit “${meeting.topic}”`;
  $("#meeting-submit").textContent = "Save changes";
  $("#meeting-submit").disabled = true;
  title.focus();
  try {
    const { data } = await api("GET", `/api/zoom/meetings/${encodeURIComponent(meeting.id)}`);
    const zone = data.timezone || browserTimeZone();
    const values = {
      topic: data.topic || "",
      start_time: data.start_time ? utcToZoned(data.start_time, zone) : "",
      duration: data.duration ?? "",
      timezone: data.timezone || "",
      password: data.password || "",
      agenda: data.agenda || "",
    };
    for (const [name, value] of Object.entries(values)) form.elements[name].value = String(value);
    meetings.editing = { id: data.id, values: { ...values } };
    form.elements.topic.focus();
  } catch (problem) {
    showProblem(box, problem);
  } finally {
    $("#meeting-submit").disabled = false;
  }
}

function closeEditor() {
  $("#meeting-editor").hidden = true;
  $("#new-meeting").hidden = false;
  meetings.editing = null;
  $("#new-meeting").focus();
}

/** The form's values as the API's fields: the start time converted from the chosen zone's wall
 * time to UTC, the duration as a number. */
function meetingBody(form) {
  const raw = {
    topic: form.elements.topic.value,
    start_time: form.elements.start_time.value,
    duration: form.elements.duration.value,
    timezone: form.elements.timezone.value.trim(),
    password: form.elements.password.value,
    agenda: form.elements.agenda.value,
  };
  const fields = (names) => {
    const body = {};
    for (const name of names) {
      const value = raw[name];
      if (name === "start_time") {
        if (value) body.start_time = zonedToUtc(value, raw.timezone) ?? value;
      } else if (name === "duration") {
        if (value !== "") body.duration = Number.isFinite(Number(value)) ? Number(value) : value;
      } else if (name === "topic") {
        body.topic = value;
      } else if (value !== "") {
        body[name] = value;
      }
    }
    return body;
  };
  if (!meetings.editing) return { ...fields(Object.keys(raw)), type: 2 };
  // An edit sends what changed (a new time zone also re-states the start time in it).
  const before = meetings.editing.values;
  const changed = Object.keys(raw).filter((name) => String(before[name]) !== raw[name]);
  if (changed.includes("timezone") && raw.start_time && !changed.includes("start_time")) changed.push("start_time");
  const body = fields(changed);
  for (const name of changed) if (!(name in body)) body[name] = name === "duration" ? null : "";
  return body;
}

$("#meeting-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const box = $("[data-problem]", form);
  clearFieldErrors(form);
  clearProblem(box);
  const body = meetingBody(form);
  const editing = meetings.editing;
  if (editing && Object.keys(body).length === 0) {
    showProblem(box, new Problem(0, { title: "Nothing to save", detail: "No field was changed." }));
    return;
  }
  const button = $("#meeting-submit");
  button.disabled = true;
  const status = $("#meetings-status");
  setStatus(status, editing ? "Saving the meeting…" : "Creating the meeting…", true);
  try {
    let answer;
    if (editing) {
      answer = await api("PATCH", `/api/zoom/meetings/${encodeURIComponent(editing.id)}`, { body });
    } else {
      // One key per submission; the same submission sent again after an answer that leaves its
      // outcome open (no answer, 409 in flight, 502/503/504) keeps its key, so the API replays
      // the first create instead of making a second meeting.
      const text = JSON.stringify(body);
      if (meetings.pending?.body !== text) meetings.pending = { body: text, key: idempotencyKey() };
      answer = await api("POST", "/api/zoom/meetings", { body, headers: { "Idempotency-Key": meetings.pending.key } });
      meetings.pending = null;
    }
    const saved = answer.data;
    banner(editing ? `Meeting “${saved.topic}” saved` : `Meeting “${saved.topic}” created`, {
      detail: saved.start_time ? `Starts ${formatDateTime(saved.start_time)}.` : undefined,
    });
    closeEditor();
    if (meetings.kind !== "upcoming" && !editing) $("#view-meetings [data-kind=upcoming]").click();
    else loadMeetings();
  } catch (problem) {
    setStatus(status, "");
    if (![0, 409, 502, 503, 504].includes(problem.status)) meetings.pending = null;
    const leftover = showFieldErrors(form, problem.errors || []);
    showProblem(box, problem, { leftover });
  } finally {
    button.disabled = false;
  }
});

async function deleteMeeting(m) {
  const confirmed = await confirmDialog({
    title: "Delete this meeting?",
    text: `“${m.topic}” is deleted at Zoom; people with its link can no longer join.`,
    ok: "Delete meeting",
  });
  if (!confirmed) return;
  const box = $("#meetings-problem");
  clearProblem(box);
  setStatus($("#meetings-status"), "Deleting the meeting…", true);
  try {
    await api("DELETE", `/api/zoom/meetings/${encodeURIComponent(m.id)}`);
    banner(`Meeting “${m.topic}” deleted`);
    await loadMeetings();
    $("#meetings-title").focus();
  } catch (problem) {
    setStatus($("#meetings-status"), "");
    showProblem(box, problem);
  }
}

// ------------------------------------------------------------------ users

const LICENSE = { 1: "Basic", 2: "Licensed", 4: "Unassigned", 99: "None" };
const users = { tokens: [""], page: 0 };

views.users = {
  show() {
    users.tokens = [""];
    users.page = 0;
    loadUsers();
  },
};

async function loadUsers() {
  const status = $("#users-status");
  const box = $("#users-problem");
  const table = $("#users-table");
  clearProblem(box);
  setStatus(status, "Loading users…", true);
  table.setAttribute("aria-busy", "true");
  try {
    const { data } = await api("GET", "/api/zoom/users", {
      query: {
        status: $("#users-status-filter").value,
        page_size: $("#users-page-size").value,
        next_page_token: users.tokens[users.page],
      },
    });
    const rows = data.users.map((u) =>
      el(
        "tr",
        {},
        el("td", { "data-label": "Name", text: [u.first_name, u.last_name].filter(Boolean).join(" ") || "—" }),
        el("td", { "data-label": "Email", text: u.email || "—" }),
        el("td", { "data-label": "Status" }, el("span", { class: `badge ${u.status === "active" ? "ok" : u.status === "pending" ? "warn" : ""}`, text: u.status || "—" })),
        el("td", { "data-label": "License", text: LICENSE[u.type] || (u.type == null ? "—" : `Type ${u.type}`) }),
      ),
    );
    $("#users-rows").replaceChildren(...rows);
    table.hidden = rows.length === 0;
    const next = data.next_page_token || "";
    users.tokens[users.page + 1] = next;
    $("#users-next").hidden = !next;
    $("#users-prev").hidden = users.page === 0;
    const total = Number.isFinite(data.total_records) ? ` of ${data.total_records}` : "";
    $("#users-page").textContent = rows.length || users.page ? `Page ${users.page + 1}` : "";
    setStatus(
      status,
      rows.length === 0
        ? `No ${$("#users-status-filter").value} users.`
        : `${rows.length} user${rows.length === 1 ? "" : "s"} on this page${total}.`,
    );
  } catch (problem) {
    setStatus(status, "");
    showProblem(box, problem);
  } finally {
    table.removeAttribute("aria-busy");
  }
}

$("#users-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  users.tokens = [""];
  users.page = 0;
  loadUsers();
});

$("#users-next").addEventListener("click", () => {
  users.page += 1;
  loadUsers().then(() => ($("#users-next").hidden ? $("#users-prev") : $("#users-next")).focus());
});

$("#users-prev").addEventListener("click", () => {
  users.page = Math.max(0, users.page - 1);
  loadUsers().then(() => ($("#users-prev").hidden ? $("#users-next") : $("#users-prev")).focus());
});

// ------------------------------------------------------------------ recordings

views.recordings = {
  show() {
    const form = $("#recordings-filter");
    if (!form.elements.to.value) form.elements.to.value = todayUtc();
    if (!form.elements.from.value) form.elements.from.value = addDays(todayUtc(), -30);
    loadRecordings();
  },
};

async function loadRecordings() {
  const form = $("#recordings-filter");
  const status = $("#recordings-status");
  const box = $("#recordings-problem");
  const list = $("#recordings-list");
  clearFieldErrors(form);
  clearProblem(box);
  setStatus(status, "Loading recordings…", true);
  list.setAttribute("aria-busy", "true");
  list.replaceChildren();
  try {
    const { data } = await api("GET", "/api/zoom/recordings", { query: { from: form.elements.from.value, to: form.elements.to.value } });
    if (!data.recordings.length) {
      list.replaceChildren(el("li", { class: "empty", text: `No recordings from ${data.from} to ${data.to}.` }));
    } else {
      list.replaceChildren(...data.recordings.map(recordingItem));
    }
    const count = data.recordings.length;
    setStatus(status, count ? `${count} recording${count === 1 ? "" : "s"} from ${data.from} to ${data.to}.` : `No recordings from ${data.from} to ${data.to}.`);
    if (data.complete === false) {
      showProblem(box, new Problem(0, { title: "Not every recording is listed", detail: "A month of this range has more recordings than one answer holds; choose a shorter range." }));
    }
  } catch (problem) {
    setStatus(status, "");
    showProblem(box, problem, { leftover: showFieldErrors(form, problem.errors || []) });
  } finally {
    list.removeAttribute("aria-busy");
  }
}

function recordingItem(r) {
  const rows = r.files.map((file) => {
    const progress = el("span", { class: "download-status", role: "status" });
    const button = el("button", { type: "button", class: "secondary" }, "Download", srOnly(` ${file.file_type} of ${r.topic}`));
    button.addEventListener("click", () => downloadFile(file, button, progress));
    const kind = [file.file_type, file.recording_type ? file.recording_type.replace(/_/g, " ") : null].filter(Boolean).join(" · ");
    return el(
      "tr",
      { "data-file-id": file.id },
      el("td", { "data-label": "File", text: kind }),
      el("td", { "data-label": "Size", class: "num", text: formatBytes(file.file_size) }),
      el("td", { "data-label": "Download" }, button, progress),
    );
  });
  const table = el(
    "table",
    { class: "responsive files" },
    el("caption", { class: "sr-only", text: `Files of ${r.topic}` }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "File" }), el("th", { scope: "col", class: "num", text: "Size" }), el("th", { scope: "col", text: "Download" }))),
    el("tbody", {}, rows),
  );
  return el(
    "li",
    { class: "item", "data-recording-id": r.id },
    el("div", { class: "item-head" }, el("h2", { text: r.topic || "(no topic)" }), el("span", { class: "meta", text: formatDateTime(r.start_time) })),
    el("p", { class: "meta", text: `${r.duration} min · ${formatBytes(r.file_size)} · ${r.files.length} file${r.files.length === 1 ? "" : "s"} · meeting ${r.meeting_id}` }),
    r.files.length ? table : el("p", { class: "empty", text: "No files in this recording." }),
  );
}

/** The archive flow: a file not archived yet answers 202 (archiving) with Retry-After; storage
 * briefly down answers 503 with Retry-After; both mean "ask again then". An archived file
 * answers its presigned URL (`redirect=false`: a script cannot read a 302's Location), and the
 * browser downloads it from there. */
async function downloadFile(file, button, progress) {
  if (!file.download_url?.startsWith("/api/zoom/recordings/")) return;
  button.disabled = true;
  progress.textContent = "Asking for the file…";
  const started = Date.now();
  try {
    for (;;) {
      let answer;
      try {
        answer = await api("GET", file.download_url, { query: { redirect: "false" } });
      } catch (problem) {
        if ((problem.status === 503 || problem.status === 429) && problem.retryAfter !== null && Date.now() - started < 15 * 60_000) {
          await countdown(progress, problem.retryAfter, "Storage is busy");
          continue;
        }
        throw problem;
      }
      if (answer.status === 202) {
        const wait = retryAfter(answer.headers, answer.data?.retry_after) ?? 5;
        button.dataset.state = "archiving";
        await countdown(progress, wait, "Archiving…");
        continue;
      }
      const url = safeUrl(answer.data?.download_url);
      if (!url) throw new Problem(0, { title: "No download link", detail: "The API did not answer a download URL." });
      button.dataset.state = "ready";
      progress.textContent = "Downloading…";
      const link = el("a", { href: url, download: "", rel: "noopener", hidden: true });
      document.body.appendChild(link);
      link.click();
      link.remove();
      progress.textContent = "Download started.";
      break;
    }
  } catch (problem) {
    delete button.dataset.state;
    const p = problem instanceof Problem ? problem : new Problem(0, { title: "Download failed", detail: String(problem) });
    progress.textContent = `${p.title}${p.detail ? `: ${p.detail}` : ""}`;
  } finally {
    button.disabled = false;
  }
}

async function countdown(progress, seconds, label) {
  for (let left = Math.max(1, Math.round(seconds)); left > 0; left -= 1) {
    progress.textContent = `${label} Trying again in ${left} s.`;
    await sleep(1000);
  }
}

$("#recordings-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  loadRecordings();
});

// ------------------------------------------------------------------ analytics

let userNames = null;

views.analytics = {
  show() {
    const form = $("#analytics-filter");
    if (!form.elements.to.value) applyRange(form.elements.range.value);
    loadAnalytics();
  },
};

function applyRange(range) {
  const form = $("#analytics-filter");
  if (range === "custom") return;
  form.elements.to.value = todayUtc();
  form.elements.from.value = addDays(todayUtc(), -(Number(range) - 1));
}

$("#an-range").addEventListener("change", (event) => {
  if (event.target.value === "custom") {
    $("#an-from").focus();
    return;
  }
  applyRange(event.target.value);
  loadAnalytics();
});

for (const id of ["#an-from", "#an-to"]) {
  $(id).addEventListener("change", () => {
    $("#an-range").value = "custom";
  });
}

$("#analytics-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  loadAnalytics();
});

/** Zoom user ids to names, from the users list (best effort: ids are shown otherwise). */
async function names() {
  if (userNames) return userNames;
  try {
    const { data } = await api("GET", "/api/zoom/users", { query: { page_size: 300 } });
    userNames = new Map(data.users.map((u) => [u.id, [u.first_name, u.last_name].filter(Boolean).join(" ") || u.email || u.id]));
  } catch {
    userNames = new Map();
  }
  return userNames;
}

async function loadAnalytics() {
  const form = $("#analytics-filter");
  const status = $("#analytics-status");
  const box = $("#analytics-problem");
  const body = $("#analytics-body");
  clearFieldErrors(form);
  clearProblem(box);
  setStatus(status, "Loading analytics…", true);
  body.setAttribute("aria-busy", "true");
  try {
    const [{ data }, known] = await Promise.all([
      api("GET", "/api/zoom/analytics/meetings", { query: { from: form.elements.from.value, to: form.elements.to.value } }),
      names(),
    ]);
    renderAnalytics(data, known);
    body.hidden = false;
    const s = data.summary;
    setStatus(
      status,
      s.meetings_started === 0 && s.participant_joins === 0
        ? `No meetings from ${data.from} to ${data.to} yet.`
        : `${numbers.format(s.meetings_started)} meeting${s.meetings_started === 1 ? "" : "s"} from ${data.from} to ${data.to}. Updated ${timeOnly.format(new Date())}.`,
    );
  } catch (problem) {
    setStatus(status, "");
    body.hidden = true;
    showProblem(box, problem, { leftover: showFieldErrors(form, problem.errors || []) });
  } finally {
    body.removeAttribute("aria-busy");
  }
}

const FIGURES = [
  ["meetings_started", "Meetings started"],
  ["meetings_completed", "Meetings completed"],
  ["total_meeting_minutes", "Meeting minutes"],
  ["participant_joins", "Participant joins"],
  ["participant_minutes", "Participant minutes"],
  ["peak_concurrent_participants", "Peak participants"],
  ["average_duration_minutes", "Average minutes"],
];

function renderAnalytics(data, known) {
  const summary = $("#analytics-summary");
  summary.replaceChildren(
    ...FIGURES.map(([key, label]) =>
      el("div", { "data-figure": key }, el("dt", { text: label }), el("dd", { text: numbers.format(Math.round((data.summary[key] || 0) * 10) / 10) })),
    ),
  );
  // Every day of the range, zero where nothing happened.
  const byDay = new Map(data.daily.map((d) => [d.date, d]));
  const days = [];
  for (let day = data.from; day <= data.to && days.length < 400; day = addDays(day, 1)) days.push(byDay.get(day) || { date: day });
  dayChart($("#chart-meetings"), {
    points: days.map((d) => ({ date: d.date, value: d.meetings_started || 0 })),
    kind: "bar",
    title: "Meetings per day",
    unit: "meetings",
    one: "meeting",
    yLabel: "Meetings started",
  });
  dayChart($("#chart-minutes"), {
    points: days.map((d) => ({ date: d.date, value: d.participant_minutes || 0 })),
    kind: "line",
    title: "Participant minutes per day",
    unit: "participant minutes",
    one: "participant minute",
    yLabel: "Participant minutes",
  });
  const host = (id) => (id ? known.get(id) || id : "—");
  $("#top-hosts").replaceChildren(
    data.top_hosts.length
      ? table(
          "Top hosts by meetings",
          ["Host", "Meetings", "Meeting minutes", "Participant minutes"],
          data.top_hosts.map((h) => [host(h.host_id), h.meetings_started, h.total_meeting_minutes, h.participant_minutes]),
        )
      : el("p", { class: "empty", text: "No hosts in this range yet." }),
  );
  $("#recent-meetings").replaceChildren(
    data.recent_meetings.length
      ? table(
          "Recent meetings",
          ["Topic", "Host", "Started", "Minutes"],
          data.recent_meetings.map((m) => [
            m.topic || "(no topic)",
            host(m.host_id),
            formatDateTime(m.start_time),
            m.end_time ? (m.duration_minutes ?? "—") : "live",
          ]),
        )
      : el("p", { class: "empty", text: "No meetings in this range yet." }),
  );
}

/** A data table whose rows turn into cards on narrow screens. */
function table(caption, headings, rows) {
  const numeric = headings.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number"));
  return el(
    "table",
    { class: "responsive" },
    el("caption", { class: "sr-only", text: caption }),
    el("thead", {}, el("tr", {}, headings.map((h, i) => el("th", { scope: "col", class: numeric[i] ? "num" : null, text: h })))),
    el(
      "tbody",
      {},
      rows.map((row) =>
        el(
          "tr",
          {},
          row.map((cell, i) =>
            el("td", { "data-label": headings[i], class: numeric[i] ? "num" : null, text: typeof cell === "number" ? numbers.format(cell) : String(cell) }),
          ),
        ),
      ),
    ),
  );
}

// ------------------------------------------------------------------ start

takeTokenFromFragment();
const returned = takeConnectOutcome();
route(returned);
