// Durin's dashboard: plain JavaScript over the /v1 REST API, no framework, no build step.
//
// Every piece of data from the engine (event names and data, errors, outputs, ids) reaches the page
// through text nodes or attributes set with setAttribute: nothing user-supplied is ever parsed as HTML.
//
// Pages (hash routes): #/runs, #/runs/{id}, #/events, #/functions, #/apps. Each page builds its static
// part once and registers "live regions" that are re-fetched on a timer and re-drawn only when their data
// changed (so open <details>, scroll positions and half-typed forms survive the polling).

"use strict";

// ---------------------------------------------------------------------------------------------------------
// DOM helpers

/** h("div", {class: "x", "data-testid": "y", onclick: fn}, child, "text", [more]) */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (key === "value" || key === "checked" || key === "disabled" || key === "selected") {
        el[key] = value;
      } else {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces el's content, keeping which <details data-key> were open. */
function swap(el, content) {
  const open = new Set();
  for (const d of el.querySelectorAll("details[data-key]")) if (d.open) open.add(d.dataset.key);
  el.replaceChildren();
  append(el, [content]);
  for (const d of el.querySelectorAll("details[data-key]")) {
    if (open.has(d.dataset.key)) d.open = true;
  }
  tick();
}

/** Replaces el's content with children (nodes, strings, arrays of them). */
function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const mono = (text, props = {}) => h("span", { class: "mono", ...props }, text);

function json(value) {
  if (value === undefined) return "";
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

function jsonInline(value, max = 120) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// ---------------------------------------------------------------------------------------------------------
// Time

function ms(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return value;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed;
}

function relative(at, now = Date.now()) {
  const delta = at - now;
  const abs = Math.abs(delta);
  if (abs < 5000) return delta <= 0 ? "just now" : "in a few seconds";
  let text;
  if (abs < 60_000) text = `${Math.round(abs / 1000)}s`;
  else if (abs < 3_600_000) text = `${Math.floor(abs / 60_000)}m`;
  else if (abs < 86_400_000) text = `${Math.floor(abs / 3_600_000)}h`;
  else text = `${Math.floor(abs / 86_400_000)}d`;
  return delta < 0 ? `${text} ago` : `in ${text}`;
}

function absolute(at) {
  const d = new Date(at);
  const local = d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  return `${local}.${String(d.getMilliseconds()).padStart(3, "0")} (${d.toISOString()})`;
}

function clock(at) {
  const d = new Date(at);
  const hms = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  return `${hms}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** A <time> showing "3m ago", the absolute time on hover; kept current by tick(). */
function timeAgo(value, props = {}) {
  const at = ms(value);
  if (at === null) return h("span", { class: "muted" }, "—");
  return h(
    "time",
    { datetime: new Date(at).toISOString(), title: absolute(at), "data-ts": at, class: "rel", ...props },
    relative(at),
  );
}

/** A <time> showing the wall-clock time (to the millisecond), the date on hover. */
function timeClock(value, props = {}) {
  const at = ms(value);
  if (at === null) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: new Date(at).toISOString(), title: absolute(at), class: "mono clock", ...props }, clock(at));
}

function duration(millis) {
  if (millis === null || millis === undefined || Number.isNaN(millis)) return "—";
  if (millis < 1000) return `${Math.max(0, Math.round(millis))} ms`;
  if (millis < 10_000) return `${(millis / 1000).toFixed(2)} s`;
  if (millis < 60_000) return `${(millis / 1000).toFixed(1)} s`;
  const s = Math.floor(millis / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function countdownText(at, now = Date.now()) {
  const left = at - now;
  if (left <= 0) return "due now";
  if (left < 10_000) return `in ${(left / 1000).toFixed(1)} s`;
  if (left < 60_000) return `in ${Math.floor(left / 1000)} s`;
  return `in ${duration(left)}`;
}

/** A live countdown to `at` (ms), kept current by tick(). */
function countdown(at, props = {}) {
  return h("time", { datetime: new Date(at).toISOString(), title: absolute(at), "data-countdown": at, ...props }, countdownText(at));
}

/** Keeps relative times, countdowns and running durations current between polls. */
function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll("[data-ts]")) {
    const text = relative(Number(el.dataset.ts), now);
    if (el.textContent !== text) el.textContent = text;
  }
  for (const el of document.querySelectorAll("[data-countdown]")) {
    const at = Number(el.dataset.countdown);
    const text = countdownText(at, now);
    if (el.textContent !== text) el.textContent = text;
    el.classList.toggle("due", at <= now);
  }
  for (const el of document.querySelectorAll("[data-since]")) {
    const text = duration(now - Number(el.dataset.since));
    if (el.textContent !== text) el.textContent = text;
  }
}
setInterval(tick, 200);

// ---------------------------------------------------------------------------------------------------------
// The REST API

class ApiError extends Error {
  constructor(status, message, { missing = false } = {}) {
    super(message);
    this.status = status;
    /** The engine has no such endpoint (yet): 404/405 without Durin's JSON error body. */
    this.missing = missing;
  }
}

async function api(path, { method = "GET", body } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    setConnection(false);
    throw new ApiError(0, "the engine is not reachable");
  }
  setConnection(true);
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (res.status === 401 && !path.startsWith("/auth/")) showLogin();
  if (!res.ok) {
    const named = parsed && typeof parsed.error === "string" ? parsed.error : null;
    const missing = !named && (res.status === 404 || res.status === 405);
    const message = named ?? (missing ? `this engine has no ${method} ${path.split("?")[0]} yet` : `${res.status} ${res.statusText}`);
    throw new ApiError(res.status, message, { missing });
  }
  return parsed && typeof parsed === "object" && "data" in parsed ? parsed.data : parsed;
}

const enc = encodeURIComponent;

// `durin serve` requires its signing key: the form exchanges it for an HttpOnly session cookie
// (POST /auth/login) and reloads; the key itself is never stored by the page.
let loginShown = false;
function showLogin() {
  if (loginShown) return;
  loginShown = true;
  const key = h("input", {
    type: "password",
    name: "signing_key",
    autocomplete: "current-password",
    placeholder: "signkey-prod-…",
    required: true,
    "data-testid": "login-key",
  });
  const message = h("p", { class: "login-error", "data-testid": "login-error", role: "alert" });
  const form = h(
    "form",
    {
      class: "login",
      "data-testid": "login",
      onsubmit: async (event) => {
        event.preventDefault();
        message.textContent = "";
        try {
          await api("/auth/login", { method: "POST", body: { signing_key: key.value } });
          location.reload();
        } catch (err) {
          message.textContent = err.message;
        }
      },
    },
    h("h1", null, "Log in"),
    h("p", null, "This engine requires its signing key (the value of --signing-key or INNGEST_SIGNING_KEY)."),
    key,
    h("button", { class: "btn btn--primary", type: "submit" }, "Log in"),
    message,
  );
  // Over the page, so that the page's own error messages do not replace it.
  document.body.append(h("div", { class: "login-overlay" }, form));
  key.focus();
}

let connected = null;
function setConnection(ok) {
  if (connected === ok) return;
  connected = ok;
  const el = document.querySelector("[data-testid=connection]");
  if (!el) return;
  el.dataset.state = ok ? "ok" : "down";
  el.querySelector(".live-text").textContent = ok ? "engine connected" : "engine unreachable";
}

// Functions change only on a sync: fetched at most every 5 s and shared by every page.
let functionsCache = { at: 0, value: null, pending: null };
async function functions() {
  if (functionsCache.value && Date.now() - functionsCache.at < 5000) return functionsCache.value;
  if (!functionsCache.pending) {
    functionsCache.pending = api("/v1/functions")
      .then((list) => {
        functionsCache = { at: Date.now(), value: list, pending: null };
        return list;
      })
      .catch((err) => {
        functionsCache.pending = null;
        if (functionsCache.value) return functionsCache.value;
        throw err;
      });
  }
  return functionsCache.pending;
}

function functionName(fns, id) {
  const fn = (fns || []).find((f) => f.id === id);
  return fn ? fn.name || fn.id : id;
}

// Events never change once stored: each is fetched once.
const eventCache = new Map();
async function eventById(id) {
  if (!id) return null;
  if (eventCache.has(id)) return eventCache.get(id);
  const promise = api(`/v1/events/${enc(id)}`).catch(() => null);
  eventCache.set(id, promise);
  const event = await promise;
  if (!event) eventCache.delete(id);
  return event;
}

// ---------------------------------------------------------------------------------------------------------
// Toasts

function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const el = h("div", { class: `toast toast--${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": "toast", "data-kind": kind, "data-at": Date.now() }, message);
  box.appendChild(el);
  setTimeout(() => el.classList.add("leaving"), 5600);
  setTimeout(() => el.remove(), 6000);
}

function errorText(err) {
  return err instanceof ApiError ? err.message : String(err && err.message ? err.message : err);
}

/** Runs an action from a button: disables it meanwhile, reports failures as a toast. */
async function act(button, label, fn) {
  const was = button.textContent;
  button.disabled = true;
  button.textContent = label;
  try {
    return await fn();
  } catch (err) {
    toast(errorText(err), "error");
    return undefined;
  } finally {
    button.disabled = false;
    button.textContent = was;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Badges

const RUN_STATUS = {
  Running: { icon: "●", cls: "running", label: "Running" },
  Paused: { icon: "‖", cls: "paused", label: "Paused" },
  Completed: { icon: "✓", cls: "ok", label: "Completed" },
  Failed: { icon: "✕", cls: "failed", label: "Failed" },
  Cancelled: { icon: "⊘", cls: "cancelled", label: "Cancelled" },
};

const STEP_STATUS = {
  completed: { icon: "✓", cls: "ok", label: "Completed" },
  failed: { icon: "✕", cls: "failed", label: "Failed" },
  running: { icon: "●", cls: "running", label: "Running" },
  waiting: { icon: "◷", cls: "waiting", label: "Waiting" },
  scheduled: { icon: "↻", cls: "retrying", label: "Retry scheduled" },
  paused: { icon: "‖", cls: "paused", label: "Paused" },
  cancelled: { icon: "⊘", cls: "cancelled", label: "Cancelled" },
};

const OUTCOME = {
  ok: { icon: "✓", cls: "ok", label: "OK" },
  error: { icon: "✕", cls: "failed", label: "Error" },
  retry_after: { icon: "↻", cls: "failed", label: "Error · Retry-After" },
  non_retriable: { icon: "✕", cls: "failed", label: "Non-retriable" },
  interrupted: { icon: "⚠", cls: "warn", label: "Interrupted" },
};

function badge(spec, fallback, props = {}) {
  const s = spec || { icon: "•", cls: "neutral", label: fallback };
  return h("span", { class: `badge badge--${s.cls}`, ...props }, h("span", { class: "badge-icon", "aria-hidden": "true" }, s.icon), s.label);
}

const runBadge = (status, props) => badge(RUN_STATUS[status], status, props);

// ---------------------------------------------------------------------------------------------------------
// Live regions and routing

let generation = 0;
let regions = [];

/** Fetches `load()` now and every `interval` ms while the page is shown; draws `view(data)` on change. */
function live(el, load, view, interval = 1500) {
  const region = { el, load, view, interval, sig: null, busy: false, next: 0, gen: generation, failed: false };
  regions.push(region);
  refresh(region);
  return region;
}

async function refresh(region, force = false) {
  if (region.gen !== generation || region.busy) return;
  region.busy = true;
  try {
    const data = await region.load();
    if (region.gen !== generation) return;
    const sig = JSON.stringify(data);
    if (force || sig !== region.sig || region.failed) {
      region.sig = sig;
      swap(region.el, region.view(data));
    }
    region.failed = false;
    region.el.removeAttribute("data-stale");
  } catch (err) {
    if (region.gen !== generation) return;
    if (region.sig === null || (err instanceof ApiError && err.status === 404 && !err.missing)) {
      region.failed = true;
      swap(region.el, errorPanel(err));
    } else {
      region.el.setAttribute("data-stale", "");
    }
  } finally {
    region.busy = false;
    region.next = Date.now() + region.interval;
  }
}

function refreshAll() {
  for (const region of regions) {
    region.next = 0;
    refresh(region, true);
  }
}

setInterval(() => {
  if (document.hidden) return;
  const now = Date.now();
  for (const region of regions) if (now >= region.next) refresh(region);
}, 250);

function errorPanel(err) {
  return h("div", { class: "panel notice notice--error", "data-testid": "load-error" }, h("strong", null, "Could not load: "), errorText(err));
}

function route() {
  const raw = location.hash.replace(/^#/, "") || "/runs";
  const [path, qs = ""] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(qs) };
}

function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function render() {
  generation += 1;
  // Toasts belong to the page they were raised on (one raised just before a navigation comes along).
  for (const el of document.querySelectorAll("#toasts .toast")) if (Date.now() - Number(el.dataset.at) > 1500) el.remove();
  regions = [];
  const main = document.getElementById("main");
  main.replaceChildren();
  const { parts, query } = route();
  const section = parts[0] || "runs";
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (section === "runs" && parts[1]) runPage(main, parts[1]);
  else if (section === "runs") runsPage(main, query);
  else if (section === "events") eventsPage(main, query);
  else if (section === "functions") functionsPage(main);
  else if (section === "apps") appsPage(main);
  else {
    document.title = "Not found · Durin";
    main.append(h("div", { class: "panel notice" }, "No such page. ", h("a", { href: "#/runs" }, "Go to the runs")));
  }
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function pageHeader(title, subtitle, ...extra) {
  document.title = `${title} · Durin`;
  return h(
    "header",
    { class: "page-header" },
    h("div", null, h("h1", { "data-testid": "page-title" }, title), subtitle ? h("p", { class: "subtitle" }, subtitle) : null),
    h("div", { class: "page-header-extra" }, extra),
  );
}

function liveIndicator(interval) {
  return h(
    "span",
    { class: "live small", title: `Refreshed every ${interval / 1000} s`, "data-testid": "live-indicator", "data-state": "ok" },
    h("span", { class: "dot", "aria-hidden": "true" }),
    "Live",
  );
}

function empty(text, props = {}) {
  return h("div", { class: "empty", ...props }, text);
}

// ---------------------------------------------------------------------------------------------------------
// Runs list

const SINCE = [
  ["", "Any time"],
  ["15m", "Last 15 minutes"],
  ["1h", "Last hour"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
];
const SINCE_MS = { "15m": 900_000, "1h": 3_600_000, "24h": 86_400_000, "7d": 604_800_000 };

function runsPage(main, query) {
  const filters = {
    status: query.get("status") || "",
    function_id: query.get("function_id") || "",
    since: query.get("since") || "",
  };
  const setFilter = (key, value) => {
    const next = { ...filters, [key]: value };
    const qs = new URLSearchParams(Object.entries(next).filter(([, v]) => v)).toString();
    go(`#/runs${qs ? `?${qs}` : ""}`);
  };

  const statusSelect = h(
    "select",
    { "data-testid": "filter-status", "aria-label": "Status", onchange: (e) => setFilter("status", e.target.value) },
    [["", "All statuses"], ...Object.keys(RUN_STATUS).map((s) => [s, s])].map(([v, l]) => h("option", { value: v, selected: v === filters.status }, l)),
  );
  const functionSelect = h(
    "select",
    { "data-testid": "filter-function", "aria-label": "Function", onchange: (e) => setFilter("function_id", e.target.value) },
    h("option", { value: "" }, "All functions"),
    filters.function_id ? h("option", { value: filters.function_id, selected: true }, filters.function_id) : null,
  );
  functions()
    .then((fns) => {
      functionSelect.replaceChildren(
        h("option", { value: "" }, "All functions"),
        ...fns.map((f) => h("option", { value: f.id, selected: f.id === filters.function_id }, f.name || f.id)),
      );
      if (filters.function_id && !fns.some((f) => f.id === filters.function_id)) {
        functionSelect.append(h("option", { value: filters.function_id, selected: true }, filters.function_id));
      }
    })
    .catch(() => {});
  const sinceSelect = h(
    "select",
    { "data-testid": "filter-since", "aria-label": "Started", onchange: (e) => setFilter("since", e.target.value) },
    SINCE.map(([v, l]) => h("option", { value: v, selected: v === filters.since }, l)),
  );
  const anyFilter = filters.status || filters.function_id || filters.since;

  const bulk = filters.function_id
    ? h(
        "button",
        {
          class: "btn",
          "data-testid": "btn-bulk-rerun",
          title: "Start a new run for every failed run of this function in the chosen time range",
          onclick: (e) =>
            act(e.currentTarget, "Rerunning…", async () => {
              if (!confirm(`Rerun every failed run of ${filters.function_id}${filters.since ? ` from the ${SINCE.find((s) => s[0] === filters.since)[1].toLowerCase()}` : ""}?`)) return;
              const body = { function_id: filters.function_id, status: "Failed" };
              if (filters.since) body.since = Date.now() - SINCE_MS[filters.since];
              const data = await api("/v1/runs/rerun", { method: "POST", body });
              const n = (data && data.run_ids ? data.run_ids.length : 0);
              toast(n === 0 ? "No failed runs to rerun" : `Started ${n} rerun${n === 1 ? "" : "s"}`, "ok");
              refreshAll();
            }),
        },
        "↻ Rerun failed runs",
      )
    : null;

  const table = h("div", { class: "panel table-panel" });
  main.append(
    pageHeader("Runs", "Every run of every function, newest first.", liveIndicator(1500)),
    h(
      "div",
      { class: "toolbar", role: "search" },
      statusSelect,
      functionSelect,
      sinceSelect,
      anyFilter ? h("a", { class: "btn btn--ghost", href: "#/runs", "data-testid": "filter-clear" }, "Clear filters") : null,
      h("span", { class: "spacer" }),
      bulk,
    ),
    table,
  );

  live(
    table,
    async () => {
      const qs = new URLSearchParams({ limit: "100" });
      if (filters.status) qs.set("status", filters.status);
      if (filters.function_id) qs.set("function_id", filters.function_id);
      if (filters.since) qs.set("since", String(Math.floor((Date.now() - SINCE_MS[filters.since]) / 60_000) * 60_000));
      const [runs, fns] = await Promise.all([api(`/v1/runs?${qs}`), functions().catch(() => [])]);
      const events = await Promise.all(runs.map((r) => eventById(r.event_id)));
      const slim = runs.map((r) => ({
        run_id: r.run_id,
        function_id: r.function_id,
        status: r.status,
        run_started_at: r.run_started_at,
        ended_at: r.ended_at,
        original_run_id: r.original_run_id ?? null,
        error: r.status === "Failed" && r.output && typeof r.output === "object" ? `${r.output.name || "Error"}: ${r.output.message ?? ""}` : null,
        paused: r.status === "Paused" && r.paused ? `${r.paused.step ? `${r.paused.step}: ` : ""}${r.paused.reason}` : null,
      }));
      return { runs: slim, fns: fns.map((f) => [f.id, f.name]), events: events.map((e) => (e ? e.name : null)) };
    },
    ({ runs, fns, events }) => {
      if (runs.length === 0) {
        return empty(anyFilter ? "No runs match these filters." : "No runs yet. Send an event from the Events page to start one.", { "data-testid": "runs-empty" });
      }
      const names = new Map(fns);
      return h(
        "table",
        { class: "table", "data-testid": "runs-table" },
        h("thead", null, h("tr", null, h("th", null, "Status"), h("th", null, "Function"), h("th", null, "Trigger"), h("th", null, "Run ID"), h("th", null, "Started"), h("th", { class: "num" }, "Duration"))),
        h(
          "tbody",
          null,
          runs.map((run, i) => {
            const started = ms(run.run_started_at);
            const ended = ms(run.ended_at);
            const href = `#/runs/${enc(run.run_id)}`;
            return h(
              "tr",
              {
                class: `row-link row--${(RUN_STATUS[run.status] || {}).cls || "neutral"}`,
                "data-testid": "run-row",
                "data-run-id": run.run_id,
                "data-function-id": run.function_id,
                "data-status": run.status,
                onclick: (e) => {
                  if (!e.target.closest("a")) go(href);
                },
              },
              h("td", null, runBadge(run.status, { "data-testid": "run-status" })),
              h(
                "td",
                null,
                h("div", { class: "strong" }, names.get(run.function_id) || run.function_id),
                h("div", { class: "mono small muted" }, run.function_id),
                run.error ? h("div", { class: "run-error-line small ellipsis", title: run.error, "data-testid": "run-error-line" }, run.error) : null,
                run.paused ? h("div", { class: "run-paused-line small ellipsis", title: run.paused, "data-testid": "run-paused-line" }, `‖ ${run.paused}`) : null,
              ),
              h(
                "td",
                null,
                run.original_run_id
                  ? h("span", { class: "chip chip--rerun", title: `Rerun of ${run.original_run_id}`, "data-testid": "rerun-chip" }, "↻ rerun")
                  : null,
                events[i] ? mono(events[i], { class: "mono small" }) : h("span", { class: "muted" }, "—"),
              ),
              h("td", null, h("a", { href, class: "mono small", "data-testid": "run-link" }, run.run_id)),
              h("td", null, timeAgo(started)),
              h("td", { class: "num mono small" }, ended !== null ? duration(ended - started) : h("span", { class: "muted", "data-since": started }, duration(Date.now() - started))),
            );
          }),
        ),
      );
    },
    1500,
  );
}

// ---------------------------------------------------------------------------------------------------------
// One run

/** The run's steps: GET /v1/runs/{id}/steps, or its attempts grouped by step while /steps is missing. */
async function runSteps(id, run) {
  try {
    const steps = await api(`/v1/runs/${enc(id)}/steps`);
    return { source: "steps", steps };
  } catch (err) {
    if (!(err instanceof ApiError && err.missing)) throw err;
  }
  const attempts = await api(`/v1/runs/${enc(id)}/attempts`);
  return { source: "attempts", steps: stepsFromAttempts(attempts, run) };
}

function stepsFromAttempts(attempts, run) {
  const byKey = new Map();
  for (const a of attempts) {
    const key = a.step_name ?? "\u0000body";
    if (!byKey.has(key)) {
      byKey.set(key, { step_id: a.step_name === null ? null : a.step_id, name: a.step_name ?? "(function body)", status: "running", output: null, error: null, attempts: [], next_attempt_at: null, next_attempt_at_ms: null });
    }
    byKey.get(key).attempts.push(a);
  }
  for (const step of byKey.values()) {
    const last = step.attempts[step.attempts.length - 1];
    if (last.outcome === "ok") step.status = "completed";
    else if (last.next_attempt_at_ms !== null && run.status === "Running") {
      step.status = "scheduled";
      step.next_attempt_at = last.next_attempt_at;
      step.next_attempt_at_ms = last.next_attempt_at_ms;
    } else step.status = run.status === "Running" && last.outcome === "interrupted" ? "running" : "failed";
    if (step.status === "failed") step.error = last.error;
  }
  return [...byKey.values()];
}

function isBody(step) {
  return step.step_id === null && (step.name === "(function body)" || step.name === null);
}

function errorBlock(error, key, props = {}) {
  if (!error) return null;
  const name = error.name || "Error";
  const message = error.message ?? (typeof error.error === "string" ? error.error : jsonInline(error));
  const stack = typeof error.stack === "string" && error.stack.trim() ? error.stack : null;
  return h(
    "div",
    { class: "error-block", "data-testid": "error", ...props },
    h("div", { class: "error-line" }, h("span", { class: "error-name", "data-testid": "error-name" }, name), ": ", h("span", { class: "error-message", "data-testid": "error-message" }, message)),
    stack
      ? h("details", { class: "stack", "data-key": `stack:${key}` }, h("summary", null, "Stack trace"), h("pre", { class: "mono", "data-testid": "error-stack" }, stack))
      : null,
  );
}

function runPage(main, id) {
  document.title = `Run ${id} · Durin`;
  const body = h("div", { class: "run-page", "data-testid": "run-page", "data-run-id": id });
  main.append(
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, h("a", { href: "#/runs", "data-testid": "back-to-runs" }, "Runs"), h("span", { "aria-hidden": "true" }, " / "), mono(id)),
    body,
  );

  const region = live(
    body,
    async () => {
      const run = await api(`/v1/runs/${enc(id)}`);
      const [steps, jobs, fns, event, reruns] = await Promise.all([
        runSteps(id, run),
        api(`/v1/runs/${enc(id)}/jobs`).catch(() => []),
        functions().catch(() => []),
        eventById(run.event_id),
        api(`/v1/runs?function_id=${enc(run.function_id)}&limit=200`)
          .then((rs) => rs.filter((r) => r.original_run_id === id).map((r) => ({ run_id: r.run_id, status: r.status, run_started_at: r.run_started_at })))
          .catch(() => []),
      ]);
      const fn = fns.find((f) => f.id === run.function_id) || null;
      return { run, steps, jobs, fn, event, reruns };
    },
    (data) => runView(data, () => refresh(region, true)),
    1000,
  );
}

function runView({ run, steps: { source, steps }, jobs, fn, event, reruns }, reload) {
  const started = ms(run.run_started_at);
  const ended = ms(run.ended_at);
  const running = run.status === "Running";
  const paused = run.status === "Paused";
  const now = Date.now();
  const backoffJobs = jobs.filter((j) => !j.leased && !j.paused && j.attempt > 0 && j.at_ms > now);
  const scheduled = steps.filter((s) => s.status === "scheduled" && s.next_attempt_at_ms !== null);
  const nextRetry = scheduled.length ? scheduled.reduce((a, b) => (a.next_attempt_at_ms <= b.next_attempt_at_ms ? a : b)) : null;
  const canRetryNow = running && (scheduled.length > 0 || backoffJobs.length > 0);
  const maxAttempts = fn ? fn.max_attempts : null;

  const rerun = (fromStep) => (e) =>
    act(e.currentTarget, "Starting…", async () => {
      const data = await api(`/v1/runs/${enc(run.run_id)}/rerun`, { method: "POST", body: fromStep ? { from_step: fromStep } : {} });
      const newId = data && data.run_id;
      toast(fromStep ? `Rerun from ${fromStep} started` : "Rerun started", "ok");
      if (newId) go(`#/runs/${enc(newId)}`);
    });

  const actions = h(
    "div",
    { class: "actions" },
    canRetryNow
      ? h(
          "button",
          {
            class: "btn btn--primary",
            "data-testid": "btn-retry-now",
            title: "Make every job of this run that waits in backoff due now",
            onclick: (e) =>
              act(e.currentTarget, "Retrying…", async () => {
                const data = await api(`/v1/runs/${enc(run.run_id)}/retry-now`, { method: "POST", body: {} });
                const n = data && typeof data.jobs === "number" ? data.jobs : null;
                toast(n === null ? "Retrying now" : `Retrying now (${n} job${n === 1 ? "" : "s"})`, "ok");
                reload();
              }),
          },
          "↻ Retry now",
        )
      : null,
    paused
      ? h(
          "button",
          {
            class: "btn btn--primary",
            "data-testid": "btn-resume",
            title: "Start the paused step again, with fresh retries",
            onclick: (e) =>
              act(e.currentTarget, "Resuming…", async () => {
                if (!confirm(`Resume run ${run.run_id}? Its paused step starts again with fresh retries.`)) return;
                await api(`/v1/runs/${enc(run.run_id)}/resume`, { method: "POST", body: {} });
                toast("Run resumed", "ok");
                reload();
              }),
          },
          "▶ Resume",
        )
      : null,
    paused
      ? h(
          "button",
          {
            class: "btn btn--danger",
            "data-testid": "btn-fail",
            title: "Fail this run with the error its step paused on",
            onclick: (e) =>
              act(e.currentTarget, "Failing…", async () => {
                if (!confirm(`Fail run ${run.run_id}? It fails with the error its step paused on; failure handlers run.`)) return;
                await api(`/v1/runs/${enc(run.run_id)}/fail`, { method: "POST", body: {} });
                toast("Run failed", "ok");
                reload();
              }),
          },
          "Fail",
        )
      : null,
    h("button", { class: "btn", "data-testid": "btn-rerun", title: "Start a new run of this function with the same event", onclick: rerun(null) }, "Rerun"),
    h(
      "button",
      {
        class: "btn btn--danger",
        "data-testid": "btn-cancel",
        disabled: !(running || paused),
        title: running || paused ? "Stop this run: no further attempts" : "Only a running or paused run can be cancelled",
        onclick: (e) =>
          act(e.currentTarget, "Cancelling…", async () => {
            if (!confirm(`Cancel run ${run.run_id}? Its pending attempts will not be made.`)) return;
            await api(`/v1/runs/${enc(run.run_id)}`, { method: "DELETE" });
            toast("Run cancelled", "ok");
            reload();
          }),
      },
      "Cancel",
    ),
  );

  const title = h(
    "div",
    { class: "run-title" },
    h("h1", { "data-testid": "run-function" }, fn ? fn.name || fn.id : run.function_id),
    runBadge(run.status, { "data-testid": "run-status", "data-status": run.status }),
  );

  const facts = h(
    "dl",
    { class: "facts" },
    fact("Run ID", mono(run.run_id, { "data-testid": "run-id" })),
    fact("Function", h("a", { href: `#/runs?function_id=${enc(run.function_id)}`, class: "mono" }, run.function_id)),
    fact("Started", timeAgo(started, { "data-testid": "run-started" })),
    fact(
      ended !== null ? "Duration" : "Running for",
      ended !== null ? h("span", { title: `Ended ${absolute(ended)}` }, duration(ended - started)) : h("span", { "data-since": started }, duration(now - started)),
    ),
    fact("Trigger", event ? h("span", null, mono(event.name), " ", h("span", { class: "muted mono small", title: "Event id" }, event.internal_id)) : mono(run.event_id || "—")),
    run.original_run_id
      ? fact("Rerun of", h("a", { href: `#/runs/${enc(run.original_run_id)}`, class: "mono", "data-testid": "original-run-link", "data-run-id": run.original_run_id }, run.original_run_id))
      : null,
    fn ? fact("Retries", `${fn.retries} (up to ${fn.max_attempts} attempts per step)`) : null,
  );

  const failedStep = run.status === "Failed" ? [...steps].reverse().find((s) => s.status === "failed" && !isBody(s)) : null;
  const runError = run.status === "Failed" && run.output && typeof run.output === "object" ? run.output : null;
  const failureSummary =
    run.status === "Failed"
      ? h(
          "div",
          { class: "notice notice--error", "data-testid": "failure-summary" },
          h("span", { class: "notice-icon", "aria-hidden": "true" }, "✕"),
          h(
            "span",
            null,
            h("strong", null, "Failed"),
            failedStep ? [" in step ", mono(failedStep.name), ` after ${plural(failedStep.attempts.length, "attempt")}`] : null,
            runError ? [": ", mono(`${runError.name || "Error"}: ${runError.message ?? ""}`)] : null,
            ended !== null ? h("span", { class: "muted" }, " · ", timeAgo(ended)) : null,
          ),
        )
      : null;

  const pause = paused ? run.paused || null : null;
  const pausedSummary = paused
    ? h(
        "div",
        { class: "notice notice--paused", "data-testid": "paused-summary" },
        h("span", { class: "notice-icon", "aria-hidden": "true" }, "‖"),
        h(
          "span",
          null,
          h("strong", null, "Paused"),
          pause ? [" in ", pause.step ? ["step ", mono(pause.step)] : "the function body", ` after ${plural(pause.attempts, "attempt")}`] : null,
          pause && pause.error ? [": ", mono(`${pause.error.name || "Error"}: ${pause.error.message ?? ""}`)] : null,
          pause ? h("span", { class: "muted" }, " · ", timeAgo(pause.since_ms)) : null,
          h("span", { class: "paused-reason", "data-testid": "paused-reason" }, pause ? pause.reason : "Out of retries under a policy that pauses."),
          h("span", { class: "muted small" }, "Resume starts the step again with fresh retries; Fail fails the run with this error."),
        ),
      )
    : null;

  const retryBanner = nextRetry
    ? h(
        "div",
        { class: "notice notice--retry", "data-testid": "next-retry" },
        h("span", { class: "notice-icon", "aria-hidden": "true" }, "↻"),
        h(
          "span",
          null,
          h("strong", null, "Next attempt"),
          " of ",
          mono(nextRetry.name),
          stepMaxAttempts(nextRetry, maxAttempts) ? ` (attempt ${nextRetry.attempts[nextRetry.attempts.length - 1].attempt + 2} of ${stepMaxAttempts(nextRetry, maxAttempts)})` : "",
          " ",
          countdown(nextRetry.next_attempt_at_ms, { class: "countdown", "data-testid": "next-retry-countdown" }),
          h("span", { class: "muted" }, ` · at ${clock(nextRetry.next_attempt_at_ms)}`),
        ),
      )
    : null;

  const outputPanel = h(
    "section",
    { class: "panel output", "data-testid": "run-output-panel" },
    h("h2", null, run.status === "Failed" ? "Error" : "Output"),
    run.status === "Completed"
      ? h("pre", { class: "mono code", "data-testid": "run-output" }, json(run.output))
      : run.status === "Failed"
        ? errorBlock(run.output && typeof run.output === "object" ? run.output : { name: "Error", message: String(run.output) }, `run:${run.run_id}`, { "data-testid": "run-error" })
        : run.status === "Cancelled"
          ? h("p", { class: "muted", "data-testid": "run-output" }, `Cancelled${ended !== null ? ` ${relative(ended)}` : ""}: no further attempts are made.`)
          : paused
            ? h("p", { class: "muted", "data-testid": "run-output" }, "No output yet: the run is paused until it is resumed or failed.")
            : h("p", { class: "muted", "data-testid": "run-output" }, "No output yet: the run is still going."),
  );

  const span = Math.max(1, (ended ?? now) - started);
  const timeline = h(
    "section",
    { class: "timeline", "data-testid": "timeline", "data-source": source },
    h(
      "div",
      { class: "section-head" },
      h("h2", null, "Steps"),
      h("span", { class: "muted small" }, plural(steps.length, "step") + " · " + plural(steps.reduce((n, s) => n + s.attempts.length, 0), "attempt")),
    ),
    steps.length === 0
      ? empty(running ? "Waiting for the first attempt…" : "No attempts were recorded.", { "data-testid": "no-steps" })
      : orderSteps(steps, run).map((step, i) => stepCard(step, i, { run, started, span, maxAttempts, rerunFrom: rerun })),
  );

  const rerunsPanel =
    reruns.length > 0
      ? h(
          "section",
          { class: "panel", "data-testid": "reruns" },
          h("h2", null, "Reruns of this run"),
          h(
            "ul",
            { class: "plain-list" },
            reruns.map((r) =>
              h("li", null, runBadge(r.status), " ", h("a", { href: `#/runs/${enc(r.run_id)}`, class: "mono", "data-testid": "rerun-link", "data-run-id": r.run_id }, r.run_id), " ", h("span", { class: "muted small" }, "started "), timeAgo(r.run_started_at)),
            ),
          ),
        )
      : null;

  const eventPanel = event
    ? h(
        "details",
        { class: "panel event-data", "data-key": "event-data" },
        h("summary", null, "Event ", mono(event.name), h("span", { class: "muted small" }, " · data and id")),
        h("pre", { class: "mono code", "data-testid": "event-data" }, json({ id: event.id, name: event.name, data: event.data, user: event.user, ts: event.ts })),
      )
    : null;

  return [
    h("div", { class: "run-head" }, title, actions),
    facts,
    failureSummary,
    pausedSummary,
    retryBanner,
    h("div", { class: "run-grid" }, h("div", { class: "run-main" }, timeline), h("aside", { class: "run-side" }, outputPanel, rerunsPanel, eventPanel)),
  ];
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Steps in the order they ran. A rerun from a step lists the steps whose results it kept (no attempt of
 * their own) after the others; they came first, so they are shown first.
 */
function orderSteps(steps, run) {
  if (!run.original_run_id) return steps;
  const kept = steps.filter((s) => s.attempts.length === 0 && s.status === "completed");
  return [...kept, ...steps.filter((s) => !kept.includes(s))];
}

function fact(label, value) {
  return h("div", { class: "fact" }, h("dt", null, label), h("dd", null, value));
}

/**
 * The attempts a step may make: what its latest explanation counted on (a policy file or the step's own
 * options may give it other retries than the function's), else the function's.
 */
function stepMaxAttempts(step, fallback) {
  const explained = [...step.attempts].reverse().find((a) => a.explanation);
  const e = explained && explained.explanation;
  return e && !e.rule && typeof e.retries === "number" ? e.retries + 1 : fallback;
}

function stepCard(step, index, { run, started, span, maxAttempts, rerunFrom }) {
  const spec = STEP_STATUS[step.status];
  const failedAttempts = step.attempts.filter((a) => a.outcome !== "ok").length;
  const body = isBody(step);
  const key = step.step_id || step.name || `body${index}`;
  const total = step.attempts.reduce((n, a) => n + (a.duration_ms || 0), 0);
  return h(
    "article",
    {
      class: `step step--${spec ? spec.cls : "neutral"}`,
      "data-testid": "step",
      "data-step-name": step.name,
      "data-step-status": step.status,
    },
    h(
      "header",
      { class: "step-head" },
      h("span", { class: `step-marker badge--${spec ? spec.cls : "neutral"}`, "aria-hidden": "true" }, spec ? spec.icon : "•"),
      h("div", { class: "step-title" }, h("span", { class: body ? "step-name body" : "step-name mono", "data-testid": "step-name" }, step.name), badge(spec, step.status, { "data-testid": "step-status" })),
      h(
        "span",
        { class: "muted small step-meta" },
        plural(step.attempts.length, "attempt"),
        failedAttempts ? h("span", { class: "fail-text" }, ` · ${failedAttempts} failed`) : null,
        ` · ${duration(total)}`,
      ),
      h("span", { class: "spacer" }),
      step.status === "scheduled" && step.next_attempt_at_ms !== null
        ? h("span", { class: "step-next" }, "next attempt ", countdown(step.next_attempt_at_ms, { class: "countdown", "data-testid": "step-countdown" }))
        : null,
      !body && run.status !== "Running" && run.status !== "Paused"
        ? h("button", { class: "btn btn--small", "data-testid": "btn-rerun-from", "data-step": step.name, title: `Rerun this function from ${step.name}: the steps before it keep their results`, onclick: rerunFrom(step.name) }, "Rerun from here")
        : null,
    ),
    step.attempts.length
      ? h(
          "ol",
          { class: "attempts" },
          step.attempts.map((a, i) => attemptRow(a, `${key}:${i}`, { started, span, maxAttempts: stepMaxAttempts(step, maxAttempts), last: i === step.attempts.length - 1, step })),
        )
      : h(
          "p",
          { class: "muted small attempts-none", "data-testid": step.status === "completed" && run.original_run_id ? "step-kept" : "step-no-attempt" },
          step.status === "completed"
            ? run.original_run_id
              ? "Result kept from the original run: not run again."
              : "Completed without an attempt of its own (resolved by the engine)."
            : step.status === "waiting"
              ? "Waiting: a sleep, a wait for an event or an invoked function."
              : "No attempt yet.",
        ),
    step.status === "completed" && step.output !== null && step.output !== undefined
      ? h("details", { class: "step-output", "data-key": `output:${key}` }, h("summary", null, "Step output"), h("pre", { class: "mono code", "data-testid": "step-output" }, json(step.output)))
      : null,
  );
}

function attemptRow(a, key, { started, span, maxAttempts, last, step }) {
  const o = OUTCOME[a.outcome] || { icon: "•", cls: "neutral", label: a.outcome };
  const failed = a.outcome !== "ok";
  const at = a.started_at_ms ?? ms(a.started_at);
  const left = Math.min(99.5, Math.max(0, ((at - started) / span) * 100));
  const width = Math.max(0.6, Math.min(100 - left, ((a.duration_ms || 0) / span) * 100));
  const kind = a.kind && a.kind.kind && a.kind.kind !== "discovery" && a.kind.kind !== "step" ? a.kind.kind : null;
  const showNext = a.next_attempt_at_ms !== null && !(last && step.status === "scheduled");
  return h(
    "li",
    { class: `attempt attempt--${o.cls}`, "data-testid": "attempt", "data-outcome": a.outcome, "data-attempt": a.attempt },
    h(
      "div",
      { class: "attempt-main" },
      h("span", { class: "attempt-number", "data-testid": "attempt-number", title: `ctx.attempt = ${a.attempt} (zero-based)` }, `Attempt ${a.attempt + 1}`, maxAttempts ? h("span", { class: "muted" }, ` / ${maxAttempts}`) : null),
      h("span", { class: `outcome outcome--${o.cls}`, "data-testid": "attempt-outcome" }, h("span", { "aria-hidden": "true" }, `${o.icon} `), o.label, kind ? ` (${kind})` : ""),
      timeClock(at, { "data-testid": "attempt-started" }),
      h("span", { class: "mono small duration", "data-testid": "attempt-duration", title: "Duration" }, duration(a.duration_ms)),
      h("span", { class: "waterfall", "aria-hidden": "true", title: "When this attempt ran, within the run" }, h("span", { class: "bar", style: `left:${left.toFixed(2)}%;width:${width.toFixed(2)}%` })),
    ),
    failed && a.error ? errorBlock(a.error, key, { "data-testid": "attempt-error" }) : null,
    a.explanation ? explanationBlock(a.explanation) : null,
    showNext ? h("div", { class: "attempt-next muted small" }, "next attempt scheduled ", duration(a.next_attempt_at_ms - (a.ended_at_ms ?? at)), " later") : null,
  );
}

const VERDICT = {
  retry: { cls: "retrying", label: "Retry" },
  cool_down: { cls: "waiting", label: "Cool-down" },
  give_up: { cls: "failed", label: "Gave up" },
  pause: { cls: "paused", label: "Paused" },
};

function millisText(n) {
  return `${n} ms`;
}

/** Why a failed attempt led where it did: the verdict and the engine's reason, then the policy, rule, counter and delay. */
function explanationBlock(e) {
  const v = VERDICT[e.verdict] || { cls: "neutral", label: e.verdict };
  const details = [];
  if (e.policy) details.push(e.policy);
  if (e.rule) details.push(`rule ${e.rule}`);
  if (typeof e.failures === "number" && typeof e.retries === "number") {
    details.push(e.verdict === "cool_down" ? `${plural(e.failures, "failure")} so far, none counted` : `failure ${e.failures} of at most ${e.retries + 1}`);
  }
  if (typeof e.run_retries === "number") details.push(`run retries ${e.run_retries_used ?? 0} of ${e.run_retries}`);
  if (typeof e.delay_ms === "number") {
    details.push(
      typeof e.backoff_ms === "number" && typeof e.jitter_ms === "number"
        ? `delay ${millisText(e.delay_ms)} = backoff ${millisText(e.backoff_ms)} + jitter ${millisText(e.jitter_ms)}`
        : `delay ${millisText(e.delay_ms)}${typeof e.retry_after_ms === "number" ? " (Retry-After)" : ""}`,
    );
  }
  return h(
    "div",
    { class: "explanation", "data-testid": "attempt-explanation", "data-verdict": e.verdict },
    h("div", { class: "explanation-line" }, h("span", { class: `verdict verdict--${v.cls}`, "data-testid": "explanation-verdict" }, v.label), h("span", { class: "explanation-reason", "data-testid": "explanation-reason" }, e.reason || "")),
    details.length ? h("div", { class: "explanation-details muted small", "data-testid": "explanation-details" }, details.join(" · ")) : null,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Events

function eventsPage(main, query) {
  const nameFilter = query.get("name") || "";
  const nameInput = h("input", { type: "text", class: "mono", "data-testid": "event-name-input", placeholder: "app/user.created", required: true, autocomplete: "off", list: "event-names", "aria-label": "Event name" });
  const dataInput = h("textarea", { class: "mono", rows: 4, "data-testid": "event-data-input", spellcheck: "false", "aria-label": "Event data (JSON)" });
  dataInput.value = "{}";
  const names = h("datalist", { id: "event-names" });
  functions()
    .then((fns) => {
      const triggers = [...new Set(fns.flatMap((f) => (f.triggers || []).map((t) => t.event).filter(Boolean)))].sort();
      names.replaceChildren(...triggers.map((t) => h("option", { value: t })));
      if (!nameInput.value && triggers.length) nameInput.placeholder = triggers[0];
    })
    .catch(() => {});
  const result = h("div", { class: "send-result", "data-testid": "send-result", "aria-live": "polite" });
  const sendButton = h("button", { class: "btn btn--primary", type: "submit", "data-testid": "btn-send-event" }, "Send event");

  const form = h(
    "form",
    {
      class: "panel send-form",
      "data-testid": "send-event-form",
      onsubmit: (e) => {
        e.preventDefault();
        let data;
        try {
          data = dataInput.value.trim() ? JSON.parse(dataInput.value) : {};
        } catch (err) {
          fill(result, h("span", { class: "fail-text" }, `The data is not valid JSON: ${err.message}`));
          dataInput.focus();
          return;
        }
        if (data === null || typeof data !== "object" || Array.isArray(data)) {
          fill(result, h("span", { class: "fail-text" }, "The data must be a JSON object, e.g. {\"user_id\": \"user_1\"}."));
          return;
        }
        const name = nameInput.value.trim();
        if (!name) {
          fill(result, h("span", { class: "fail-text" }, "Give the event a name."));
          return;
        }
        act(sendButton, "Sending…", async () => {
          const answer = await api("/e/dashboard", { method: "POST", body: { name, data } });
          const ids = (answer && answer.ids) || [];
          fill(result, h("span", { class: "ok-text" }, "✓ Sent "), mono(name), " as ", ids.map((id) => mono(id, { "data-testid": "sent-event-id" })), h("span", { class: "muted" }, " · its runs appear below and on the "), h("a", { href: "#/runs" }, "Runs"), h("span", { class: "muted" }, " page."));
          toast(`Sent ${name}`, "ok");
          refreshAll();
        });
      },
    },
    h("h2", null, "Send a test event"),
    h("div", { class: "form-row" }, h("label", null, h("span", null, "Name"), nameInput), names),
    h("div", { class: "form-row" }, h("label", null, h("span", null, "Data (JSON object)"), dataInput)),
    h("div", { class: "form-actions" }, sendButton, result),
  );

  const showSystem = query.get("system") === "1";
  const setQuery = (name, system) => {
    const qs = new URLSearchParams();
    if (name) qs.set("name", name);
    if (system) qs.set("system", "1");
    go(`#/events${qs.size ? `?${qs}` : ""}`);
  };
  const filter = h("input", {
    type: "search",
    class: "mono",
    placeholder: "Filter by exact name",
    value: nameFilter,
    "data-testid": "filter-event-name",
    "aria-label": "Filter by event name",
    onchange: (e) => setQuery(e.target.value.trim(), showSystem),
  });
  const systemToggle = h(
    "label",
    { class: "check small", title: "inngest/function.finished, inngest/function.failed, ...: the events the engine emits itself" },
    h("input", { type: "checkbox", checked: showSystem, "data-testid": "toggle-system-events", onchange: (e) => setQuery(nameFilter, e.target.checked) }),
    " Show the engine's own inngest/* events",
  );
  const list = h("div", { class: "panel table-panel" });
  main.append(pageHeader("Events", "The events the engine received, newest first; open one to see its data and runs.", liveIndicator(2000)), form, h("div", { class: "toolbar" }, filter, systemToggle), list);

  live(
    list,
    async () => {
      const qs = new URLSearchParams({ limit: "200" });
      if (nameFilter) qs.set("name", nameFilter);
      const events = (await api(`/v1/events?${qs}`)).filter((e) => showSystem || nameFilter || !e.name.startsWith("inngest/")).slice(0, 50);
      return events.map((e) => ({ internal_id: e.internal_id, id: e.id, name: e.name, data: e.data, user: e.user, ts: e.ts, received_at: e.received_at }));
    },
    (events) =>
      events.length === 0
        ? empty(nameFilter ? "No events with this name." : "No events yet. Send one with the form above.", { "data-testid": "events-empty" })
        : h(
            "div",
            { class: "event-list", "data-testid": "events-table" },
            h("div", { class: "event-row event-row--head" }, h("span", null, "Name"), h("span", null, "Data"), h("span", null, "Event ID"), h("span", null, "Received")),
            events.map((e) => eventRow(e)),
          ),
    2000,
  );
}

function eventRow(e) {
  const runs = h("div", { class: "event-runs", "data-testid": "event-runs" }, h("span", { class: "muted small" }, "Loading runs…"));
  const loadRuns = () =>
    api(`/v1/events/${enc(e.internal_id)}/runs`)
      .then((list) =>
        fill(runs, 
          list.length === 0
            ? h("span", { class: "muted small" }, "This event started no run (no function is triggered by it).")
            : h(
                "ul",
                { class: "plain-list" },
                list.map((r) => h("li", null, runBadge(r.status), " ", h("a", { href: `#/runs/${enc(r.run_id)}`, class: "mono small" }, r.run_id), " ", h("span", { class: "muted small" }, r.function_id))),
              ),
        ),
      )
      .catch((err) => fill(runs, h("span", { class: "fail-text" }, errorText(err))));
  return h(
    "details",
    {
      class: "event-item",
      "data-key": `event:${e.internal_id}`,
      "data-testid": "event-row",
      "data-event-id": e.internal_id,
      "data-event-name": e.name,
      ontoggle: (ev) => {
        if (ev.currentTarget.open) loadRuns();
      },
    },
    h(
      "summary",
      { class: "event-row" },
      h("span", { class: "mono strong", "data-testid": "event-name" }, e.name),
      h("span", { class: "mono small muted ellipsis", title: jsonInline(e.data, 2000) }, jsonInline(e.data, 90)),
      h("span", { class: "mono small" }, e.internal_id),
      timeAgo(e.received_at),
    ),
    h(
      "div",
      { class: "event-detail" },
      h("div", null, h("h3", null, "Payload"), h("pre", { class: "mono code" }, json({ id: e.id, name: e.name, data: e.data, user: e.user, ts: e.ts }))),
      h("div", null, h("h3", null, "Runs"), runs),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Functions

function functionsPage(main) {
  const list = h("div", { class: "panel table-panel" });
  main.append(pageHeader("Functions", "Every function of every synced app, with its triggers, retries and latest runs.", liveIndicator(3000)), list);
  live(
    list,
    async () => {
      const fns = await api("/v1/functions");
      const recent = await Promise.all(
        fns.map((f) =>
          api(`/v1/runs?function_id=${enc(f.id)}&limit=10`)
            .then((rs) => rs.map((r) => ({ run_id: r.run_id, status: r.status, run_started_at: r.run_started_at })))
            .catch(() => []),
        ),
      );
      return fns.map((f, i) => ({ ...f, recent: recent[i] }));
    },
    (fns) =>
      fns.length === 0
        ? empty("No functions yet. Add an app on the Apps page, or start one pointed at this engine.", { "data-testid": "functions-empty" })
        : h(
            "table",
            { class: "table", "data-testid": "functions-table" },
            h("thead", null, h("tr", null, h("th", null, "Function"), h("th", null, "App"), h("th", null, "Triggers"), h("th", null, "Retries"), h("th", null, "Recent runs"))),
            h(
              "tbody",
              null,
              fns.map((f) =>
                h(
                  "tr",
                  { "data-testid": "function-row", "data-function-id": f.id },
                  h("td", null, h("div", { class: "strong" }, f.name || f.id), h("div", { class: "mono small muted" }, f.id)),
                  h("td", null, mono(f.app || "—", { class: "mono small" })),
                  h(
                    "td",
                    null,
                    (f.triggers || []).map((t) =>
                      h(
                        "div",
                        { class: "trigger" },
                        t.event ? h("span", { class: "chip", title: "Event trigger" }, mono(t.event)) : null,
                        t.cron ? h("span", { class: "chip", title: "Cron trigger" }, "cron ", mono(t.cron)) : null,
                        t.expression ? h("span", { class: "muted small mono", title: "Only events matching this expression" }, ` if ${t.expression}`) : null,
                      ),
                    ),
                  ),
                  h("td", null, f.retries === 0 ? "No retries" : `${f.retries} retries`, h("div", { class: "muted small" }, `${f.max_attempts} attempt${f.max_attempts === 1 ? "" : "s"} per step`)),
                  h(
                    "td",
                    null,
                    f.recent.length === 0
                      ? h("span", { class: "muted small" }, "No runs yet")
                      : h(
                          "div",
                          { class: "recent" },
                          f.recent.map((r) =>
                            h(
                              "a",
                              { href: `#/runs/${enc(r.run_id)}`, class: `dot-link badge--${(RUN_STATUS[r.status] || {}).cls || "neutral"}`, title: `${r.status} · ${r.run_id} · ${absolute(ms(r.run_started_at))}`, "aria-label": `${r.status} run ${r.run_id}` },
                              (RUN_STATUS[r.status] || { icon: "•" }).icon,
                            ),
                          ),
                          h("a", { href: `#/runs?function_id=${enc(f.id)}`, class: "small more" }, "All runs →"),
                        ),
                  ),
                ),
              ),
            ),
          ),
    3000,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Apps

function sdkLabel(sdk) {
  if (!sdk) return "—";
  const m = /^([a-z]+):v?(.+)$/i.exec(sdk);
  if (!m) return sdk;
  const names = { js: "TypeScript", ts: "TypeScript", py: "Python", go: "Go", rs: "Rust" };
  return `${names[m[1].toLowerCase()] || m[1]} SDK ${m[2]}`;
}

function appsPage(main) {
  const urlInput = h("input", { type: "url", class: "mono", required: true, placeholder: "http://127.0.0.1:3000/api/inngest", "data-testid": "app-url-input", "aria-label": "Serve URL" });
  const result = h("div", { class: "send-result", "data-testid": "add-app-result", "aria-live": "polite" });
  const addButton = h("button", { class: "btn btn--primary", type: "submit", "data-testid": "btn-add-app" }, "Add app");
  const list = h("div", { class: "panel table-panel" });
  let region;

  const form = h(
    "form",
    {
      class: "panel add-app",
      "data-testid": "add-app-form",
      novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        let url = urlInput.value.trim();
        if (!url) return;
        if (!/^[a-z]+:\/\//i.test(url)) url = `http://${url}`;
        act(addButton, "Syncing…", async () => {
          const app = await api("/v1/apps", { method: "POST", body: { url } });
          if (app && app.error) {
            fill(result, h("span", { class: "fail-text" }, "Added, but the sync failed: ", app.error));
          } else {
            fill(result, h("span", { class: "ok-text" }, "✓ Synced "), mono(url), app && typeof app.function_count === "number" ? ` · ${app.function_count} function${app.function_count === 1 ? "" : "s"}` : "");
            urlInput.value = "";
          }
          functionsCache.at = 0;
          if (region) refresh(region, true);
        });
      },
    },
    h("h2", null, "Add an app"),
    h("p", { class: "muted small" }, "The engine calls the app's serve URL (a PUT), and the app registers its functions."),
    h("div", { class: "inline-form" }, urlInput, addButton),
    result,
  );

  main.append(pageHeader("Apps", "The apps the engine calls, and whether their last sync worked.", liveIndicator(3000)), list, form);

  region = live(
    list,
    () => api("/v1/apps"),
    (apps) =>
      apps.length === 0
        ? empty("No apps yet. Add one by its serve URL below.", { "data-testid": "apps-empty" })
        : h(
            "table",
            { class: "table", "data-testid": "apps-table" },
            h("thead", null, h("tr", null, h("th", null, "App"), h("th", null, "URL"), h("th", null, "SDK"), h("th", null, "Sync"), h("th", { class: "num" }, "Functions"), h("th", null, ""))),
            h(
              "tbody",
              null,
              apps.map((app) =>
                h(
                  "tr",
                  { "data-testid": "app-row", "data-app-url": app.url, "data-sync": app.error ? "error" : "ok" },
                  h("td", null, app.name && app.name !== app.url ? h("span", { class: "strong" }, app.name) : h("span", { class: "muted" }, "(not synced yet)")),
                  h("td", null, mono(app.url || "—", { class: "mono small" })),
                  h("td", { class: "nowrap" }, sdkLabel(app.sdk), app.framework ? h("div", { class: "muted small" }, app.framework) : null),
                  h(
                    "td",
                    null,
                    app.error
                      ? [badge({ icon: "✕", cls: "failed", label: "Sync failed" }, null, { "data-testid": "app-sync-status" }), h("div", { class: "fail-text small app-error", "data-testid": "app-error" }, app.error)]
                      : app.synced_at
                        ? [badge({ icon: "✓", cls: "ok", label: "Synced" }, null, { "data-testid": "app-sync-status" }), h("div", { class: "muted small" }, timeAgo(app.synced_at))]
                        : badge({ icon: "◷", cls: "waiting", label: "Not synced yet" }, null, { "data-testid": "app-sync-status" }),
                  ),
                  h("td", { class: "num" }, String(app.function_count ?? "—")),
                  h(
                    "td",
                    { class: "num" },
                    h(
                      "button",
                      {
                        class: "btn btn--small",
                        "data-testid": "btn-resync",
                        title: "Ask the app to register its functions again",
                        onclick: (e) =>
                          act(e.currentTarget, "Syncing…", async () => {
                            const synced = await api("/v1/apps/sync", { method: "POST", body: { url: app.url } });
                            toast(synced && synced.error ? `Sync failed: ${synced.error}` : `Synced ${app.name || app.url}`, synced && synced.error ? "error" : "ok");
                            functionsCache.at = 0;
                            refresh(region, true);
                          }),
                      },
                      "Re-sync",
                    ),
                  ),
                ),
              ),
            ),
          ),
    3000,
  );
}

// ---------------------------------------------------------------------------------------------------------

window.addEventListener("hashchange", render);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) for (const region of regions) region.next = 0;
});
render();
