// ambience venue dashboard: vanilla JS, no build step, no external resources.
//
// It signs in with a token (kept in localStorage), reads /api/v1/state, /devices and /communities, and follows
// /api/v1/events/stream. EventSource cannot send an Authorization header, so the stream is read with fetch() and
// parsed here; it reconnects with back-off and resumes after the last event id seen (Last-Event-ID).
"use strict";

(() => {
  const TOKEN_KEY = "ambience.token";
  const TRAFFIC_KEY = "ambience.showTraffic";
  const LOG_MAX = 50;
  const LOG_KEEP = 300;
  const REFRESH_DEBOUNCE_MS = 150;
  // A slow re-read in case an event was missed; a page that embeds the dashboard (or a test proving that the
  // stream alone drives the tiles) may set window.ambienceSafetyRefreshMs before this script runs, 0 to turn it off.
  const SAFETY_REFRESH_MS = Number(window.ambienceSafetyRefreshMs ?? 10000);
  const STREAM_SILENCE_MS = 75000; // no byte for this long: assume the connection died quietly and reconnect
  const BACKOFF_MIN_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  const LINE_PX = 22; // must match .editor line-height in dashboard.css
  // Events after which what the API shows may have changed.
  const REFRESHING = new Set([
    "checkin", "checkout", "checkin_expired", "profile_activated", "phase_changed", "ambience_applied",
    "device_state", "device_online", "device_offline", "profile_updated", "command_sent", "manual_override",
    "profile_forced",
  ]);
  const TRAFFIC = new Set(["command_sent", "device_state"]);

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || ["role", "title", "type", "tabindex"].includes(k)) {
        node.setAttribute(k, v === true && !k.startsWith("data-") ? "" : String(v));
      } else node[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  };
  let wake = null; // ends the stream's back-off wait early (the network came back)
  const backoff = (ms) => new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      if (wake === done) wake = null;
      resolve();
    }
    wake = done;
  });

  class Unauthorized extends Error {}

  // ---- session -------------------------------------------------------------------------------------------

  let token = localStorage.getItem(TOKEN_KEY);
  let generation = 0; // bumped on sign-in/out: loops of an older session stop
  let streamAbort = null;
  let safetyTimer = null;
  let refreshTimer = null;
  let refreshing = false;
  let refreshAgain = false;
  let lastEventId = null; // the last id received, for Last-Event-ID on reconnect
  let highestId = 0;
  const events = []; // newest first, at most LOG_KEEP
  let communities = [];
  let lastState = null;

  async function api(path, options = {}) {
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
      needToken("The venue did not accept the token; sign in again.");
      throw new Unauthorized();
    }
    return response;
  }

  async function bodyOf(response) {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      return { detail: text || response.statusText };
    }
  }

  function detailText(detail) {
    if (detail === undefined || detail === null) return "";
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => fieldError(d)).map((e) => `${e.path}: ${e.message}`).join("; ");
    return JSON.stringify(detail);
  }

  function fieldError(d) {
    // Our API: {"path","message"}; FastAPI's own request validation: {"loc": [...], "msg"}.
    if (d && typeof d === "object") {
      let path = d.path;
      if (path === undefined && Array.isArray(d.loc)) path = d.loc.filter((p) => p !== "body").join(".");
      return { path: String(path ?? ""), message: String(d.message ?? d.msg ?? JSON.stringify(d)) };
    }
    return { path: "", message: String(d) };
  }

  function stop() {
    generation += 1;
    if (streamAbort) streamAbort.abort();
    streamAbort = null;
    clearInterval(safetyTimer);
    clearTimeout(refreshTimer);
    safetyTimer = null;
    refreshTimer = null;
  }

  function needToken(message) {
    stop();
    token = null;
    localStorage.removeItem(TOKEN_KEY);
    setConnection("idle", "signed out");
    $("sign-out").hidden = true;
    $("token-error").textContent = message || "";
    const dialog = $("token-dialog");
    if (!dialog.open) dialog.showModal();
    $("token-input").focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const candidate = $("token-input").value.trim();
    const error = $("token-error");
    if (!candidate) {
      error.textContent = "Enter a token.";
      return;
    }
    error.textContent = "Checking…";
    let response;
    try {
      response = await fetch("/api/v1/state", { headers: { Authorization: `Bearer ${candidate}` }, cache: "no-store" });
    } catch {
      error.textContent = "Cannot reach the venue controller.";
      return;
    }
    if (response.status === 401) {
      error.textContent = "That token was not accepted.";
      return;
    }
    if (response.status === 403) {
      error.textContent = "That token belongs to a community; the dashboard needs the venue's admin token.";
      return;
    }
    if (!response.ok) {
      error.textContent = `The venue answered ${response.status}.`;
      return;
    }
    token = candidate;
    localStorage.setItem(TOKEN_KEY, token);
    $("token-input").value = "";
    error.textContent = "";
    $("token-dialog").close();
    start();
  }

  function signOut(event) {
    event.preventDefault();
    needToken("Signed out.");
    $("main").hidden = true;
    clearView();
  }

  function start() {
    stop();
    const gen = generation;
    $("main").hidden = false;
    $("sign-out").hidden = false;
    refresh();
    loadCommunities();
    loadRecentEvents(gen).finally(() => {
      if (gen === generation) streamLoop(gen);
    });
    if (SAFETY_REFRESH_MS > 0) {
      safetyTimer = setInterval(() => {
        refresh();
        loadCommunities();
      }, SAFETY_REFRESH_MS);
    }
  }

  function clearView() {
    tiles.clear();
    $("devices").replaceChildren();
    $("presence").replaceChildren();
    $("event-log").replaceChildren();
    events.length = 0;
    lastEventId = null;
    highestId = 0;
  }

  // ---- state and devices -----------------------------------------------------------------------------------

  function scheduleRefresh() {
    if (refreshTimer !== null) return; // at most one refresh per debounce window, even under a steady stream
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      refresh();
    }, REFRESH_DEBOUNCE_MS);
  }

  async function refresh() {
    if (token === null) return;
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    const gen = generation;
    try {
      const [stateRes, devicesRes] = await Promise.all([api("/api/v1/state"), api("/api/v1/devices")]);
      if (gen !== generation) return;
      if (stateRes.ok) renderState(await stateRes.json());
      if (devicesRes.ok) renderDevices(await devicesRes.json());
    } catch (err) {
      if (!(err instanceof Unauthorized)) console.warn("refresh failed", err);
    } finally {
      refreshing = false;
      if (refreshAgain && gen === generation) {
        refreshAgain = false;
        scheduleRefresh();
      }
    }
  }

  function communityName(id) {
    const c = communities.find((x) => x.id === id);
    return c && c.name && c.name !== id ? c.name : null;
  }

  function clock(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function ago(iso) {
    if (!iso) return "never";
    const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (seconds < 5) return "just now";
    if (seconds < 90) return `${seconds} s ago`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
    return `${Math.round(seconds / 3600)} h ago`;
  }

  const SOURCES = {
    community: "community profile", forced: "forced by an operator", default: "house default", none: "nothing active",
  };

  function renderState(state) {
    lastState = state;
    const venue = $("venue-name");
    venue.textContent = state.venue || "venue";
    venue.dataset.venue = state.venue || "";
    document.title = `ambience · ${state.venue || "venue"}`;

    const active = state.active_profile ?? null;
    const profile = $("active-profile");
    profile.textContent = active ?? "none";
    profile.dataset.profile = active ?? "";
    const name = active ? communityName(active) : null;
    profile.title = name || "";
    const others = (state.active || []).filter((c) => c !== active);
    const source = $("active-source");
    source.dataset.source = state.source || "";
    source.textContent = [name, SOURCES[state.source] || state.source, others.length ? `with ${others.join(", ")}` : null]
      .filter(Boolean).join(" · ");

    const phase = $("active-phase");
    phase.textContent = state.phase ?? (active ? "base" : "–");
    phase.dataset.phase = state.phase ?? "";
    const since = active && state.active_since ? state.active_since[active] : null;
    $("active-since").textContent = since ? `active since ${clock(since)}` : "";

    const total = $("total");
    total.textContent = String(state.total ?? 0);
    total.dataset.total = String(state.total ?? 0);

    renderPresence(state);
  }

  function renderPresence(state) {
    const present = state.present || {};
    const headcount = state.headcount || {};
    const ids = [...new Set([...Object.keys(headcount), ...Object.keys(present)])].sort();
    const eligible = new Set(state.eligible || []);
    const active = new Set(state.active || []);
    const list = $("presence");
    const items = [];
    for (const id of ids) {
      const members = present[id] || [];
      const count = headcount[id] ?? members.length;
      if (!count && !members.length) continue;
      const name = communityName(id);
      const badges = [];
      if (active.has(id)) badges.push(el("span", { class: "badge active", text: "active" }));
      else if (eligible.has(id)) badges.push(el("span", { class: "badge", text: "eligible" }));
      else badges.push(el("span", { class: "badge", text: "below quorum" }));
      const chips = members.map((m) =>
        el("span", { class: "member", "data-member-id": m },
          el("span", { class: "member-name", text: m }),
          el("button", { type: "button", "aria-label": `Check ${m} out`, title: `Check ${m} out`, text: "×",
            onclick: () => checkOut(m) })));
      items.push(el("li", { "data-community": id, "data-count": count, "data-active": active.has(id) },
        el("span", { class: "community", text: id }),
        name ? el("span", { class: "muted", text: name }) : null,
        el("span", { class: "count", "aria-label": `${count} present`, text: String(count) }),
        ...badges,
        ...chips));
    }
    // Re-rendered whole: keep the keyboard focus on the same member's button if it was on one.
    const focused = document.activeElement && document.activeElement.closest("[data-member-id]");
    const focusedId = focused && list.contains(focused) ? focused.dataset.memberId : null;
    list.replaceChildren(...items);
    $("presence-empty").hidden = items.length > 0;
    if (focusedId !== null) {
      const again = [...list.querySelectorAll("[data-member-id]")].find((n) => n.dataset.memberId === focusedId);
      if (again) again.querySelector("button").focus();
    }
  }

  // ---- device tiles ----------------------------------------------------------------------------------------

  const tiles = new Map();

  function renderDevices(devices) {
    const container = $("devices");
    const seen = new Set();
    devices.forEach((device, index) => {
      let tile = tiles.get(device.id);
      if (!tile) {
        tile = makeTile(device);
        tiles.set(device.id, tile);
      }
      if (container.children[index] !== tile.root) container.insertBefore(tile.root, container.children[index] || null);
      updateTile(tile, device);
      seen.add(device.id);
    });
    for (const [id, tile] of tiles) {
      if (!seen.has(id)) {
        tile.root.remove();
        tiles.delete(id);
      }
    }
  }

  function makeTile(device) {
    const t = {};
    t.name = el("div", { class: "name", text: device.id });
    t.zone = el("div", { class: "zone" });
    t.headline = el("div", { class: "headline" });
    t.swatch = el("div", { class: "swatch" }, el("div", {}, t.name, t.zone), t.headline);
    t.net = el("span", { class: "badge net" });
    t.pending = el("span", { class: "badge pending", text: "sending…", hidden: true });
    t.drift = el("span", { class: "badge drift", text: "differs", hidden: true });
    t.unsupported = el("span", { class: "badge", text: "unsupported", hidden: true });
    t.status = el("div", { class: "status" }, t.unsupported, t.pending, t.drift, t.net);
    t.details = el("div", { class: "details" });
    t.root = el("article", { class: "tile", "data-device-id": device.id, "data-kind": device.kind, tabindex: 0 },
      t.swatch, t.status, t.details);
    return t;
  }

  function row(key, ...value) {
    return el("div", { class: "row" }, el("span", { class: "k", text: key }), el("span", { class: "v" }, ...value));
  }

  function dot(color) {
    if (!color) return null;
    const node = el("span", { class: "dot", "aria-hidden": "true" });
    node.style.background = color; // through the CSSOM: the page's CSP refuses style attributes
    return node;
  }

  function num(value, digits = 0) {
    return typeof value === "number" ? value.toFixed(digits).replace(/\.0+$/, "") : "–";
  }

  function describeLight(s) {
    if (!s) return "unknown";
    if (s.on === false) return "off";
    const parts = [s.on ? "on" : null];
    if (typeof s.brightness === "number") parts.push(`${num(s.brightness)} %`);
    // to 10 K: a bulb counts in mireds, so 2700 K comes back as 370 mired = 2703 K, which is not a difference
    if (typeof s.color_temp_k === "number") parts.push(`${Math.round(s.color_temp_k / 10) * 10} K`);
    else if (Array.isArray(s.color_xy)) parts.push(`xy ${s.color_xy.map((v) => num(v, 3)).join(", ")}`);
    return parts.filter(Boolean).join(" · ") || "–";
  }

  function lightsDiffer(desired, reported) {
    if (!desired || !reported) return false;
    if (desired.on !== undefined && Boolean(desired.on) !== Boolean(reported.on)) return true;
    if (!desired.on) return false;
    const close = (a, b, tol) => typeof a !== "number" || typeof b !== "number" || Math.abs(a - b) <= tol;
    if (!close(desired.brightness, reported.brightness, 1.5)) return true;
    if (!close(desired.color_temp_k, reported.color_temp_k, 75)) return true;
    if (Array.isArray(desired.color_xy) && Array.isArray(reported.color_xy)) {
      return !close(desired.color_xy[0], reported.color_xy[0], 0.01) || !close(desired.color_xy[1], reported.color_xy[1], 0.01);
    }
    return false;
  }

  function differs(desired, reported, keys) {
    if (!desired || !reported) return false;
    return keys.some((k) => desired[k] !== undefined && reported[k] !== undefined &&
      (typeof desired[k] === "number" ? Math.abs(desired[k] - reported[k]) > 0.5 : desired[k] !== reported[k]));
  }

  function textOn(hex) {
    const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
    if (!m) return "";
    const [r, g, b] = m.slice(1).map((h) => parseInt(h, 16) / 255);
    const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    return luminance > 0.55 ? "#14161a" : "#f5f7fa";
  }

  const PLAY = { play: "▶ playing", pause: "⏸ paused", stop: "■ stopped" };

  function updateTile(t, d) {
    const r = d.reported;
    const w = d.desired;
    const root = t.root;
    root.dataset.kind = d.kind;
    root.dataset.zone = d.zone;
    const via = d.driver === "hue" ? " · Hue" : "";
    t.zone.textContent = `${d.kind} · ${d.zone === "*" ? "whole venue" : d.zone}${via}`;
    root.dataset.driver = d.driver;
    const online = d.online === true ? "true" : d.online === false ? "false" : "unknown";
    root.dataset.online = online;
    t.net.textContent = online === "true" ? "online" : online === "false" ? "offline" : "no news";
    t.net.className = `badge net ${online === "true" ? "online" : online === "false" ? "offline" : ""}`;
    t.pending.hidden = !d.pending;
    t.unsupported.hidden = d.supported !== false;
    root.dataset.pending = d.pending ? "true" : "false";

    const details = [];
    let summary = "";
    let drift = false;
    if (d.kind === "light") {
      const lit = Boolean(r && r.on);
      const color = lit && r.color_hex ? r.color_hex : "";
      root.dataset.color = color;
      root.dataset.light = r ? (lit ? "on" : "off") : "unknown";
      root.dataset.brightness = lit && typeof r.brightness === "number" ? String(r.brightness) : "";
      t.swatch.style.backgroundColor = color;
      t.swatch.style.color = textOn(color);
      t.headline.textContent = !r ? "–" : lit ? `${num(r.brightness ?? 100)} %` : "off";
      details.push(row("reported", dot(color), describeLight(r)));
      details.push(row("desired", dot(w && w.on ? w.color_hex : ""), w ? describeLight(w) : "nothing"));
      drift = lightsDiffer(w, r);
      summary = `light, reported ${describeLight(r)}, desired ${w ? describeLight(w) : "nothing"}`;
    } else if (d.kind === "thermostat") {
      const s = r || {};
      t.headline.textContent = typeof s.target_c === "number" ? `${num(s.target_c, 1)} °C` : "–";
      root.dataset.target = s.target_c ?? "";
      details.push(row("mode", s.mode ?? "–"));
      details.push(row("room", typeof s.local_temp_c === "number" ? `${num(s.local_temp_c, 1)} °C` : "–"));
      details.push(row("desired", w ? `${num(w.target_c, 1)} °C · ${w.mode ?? "–"}` : "nothing"));
      drift = differs(w, r, ["target_c", "mode"]);
      summary = `thermostat, set to ${num(s.target_c, 1)} degrees, mode ${s.mode ?? "unknown"}, room ${num(s.local_temp_c, 1)} degrees`;
    } else if (d.kind === "speaker") {
      const s = r || {};
      t.headline.textContent = PLAY[s.state] || s.state || "–";
      root.dataset.state = s.state ?? "";
      details.push(row("playlist", s.playlist ?? "–"));
      details.push(row("volume", typeof s.volume === "number" ? `${num(s.volume)} %` : "–"));
      details.push(row("desired", w ? [w.state, w.playlist, typeof w.volume === "number" ? `${num(w.volume)} %` : null]
        .filter(Boolean).join(" · ") : "nothing"));
      drift = differs(w, r, ["state", "playlist", "volume"]);
      summary = `speaker, ${s.state ?? "unknown"}, playlist ${s.playlist ?? "none"}, volume ${num(s.volume)} percent`;
    } else if (d.kind === "scent") {
      const s = r || {};
      const on = s.on !== false && r !== null && r !== undefined;
      t.headline.textContent = !r ? "–" : on ? (s.name ?? "on") : "off";
      details.push(row("scent", s.name ?? "–"));
      details.push(row("intensity", typeof s.intensity === "number" ? `${num(s.intensity)} %` : "–"));
      details.push(row("desired", w ? (w.on === false ? "off" : [w.name, typeof w.intensity === "number" ? `${num(w.intensity)} %` : null]
        .filter(Boolean).join(" · ")) : "nothing"));
      drift = differs(w, r, ["on", "name", "intensity"]);
      summary = `scent diffuser, ${on ? `${s.name ?? "on"} at ${num(s.intensity)} percent` : "off"}`;
    } else {
      t.headline.textContent = r ? "" : "–";
      details.push(row("reported", r ? JSON.stringify(r) : "–"));
      details.push(row("desired", w ? JSON.stringify(w) : "nothing"));
      summary = d.kind;
    }
    t.drift.hidden = !drift || Boolean(d.pending);
    details.push(row("last seen", d.last_seen ? el("time", { dateTime: d.last_seen, text: ago(d.last_seen) }) : "never"));
    t.details.replaceChildren(...details);
    root.setAttribute("aria-label", `${d.id} in ${d.zone === "*" ? "the whole venue" : d.zone}: ${summary}; ` +
      `${online === "true" ? "online" : online === "false" ? "offline" : "status unknown"}`);
  }

  // ---- communities and check-ins --------------------------------------------------------------------------

  async function loadCommunities() {
    try {
      const response = await api("/api/v1/communities");
      if (!response.ok) return;
      const list = await response.json();
      if (JSON.stringify(list) === JSON.stringify(communities)) return;
      communities = list;
      fillSelect($("community-select"), list, (c) => `${c.name && c.name !== c.id ? `${c.name} (${c.id})` : c.id}`);
      fillSelect($("profile-community"), list,
        (c) => `${c.name && c.name !== c.id ? `${c.name} (${c.id})` : c.id}${c.has_profile ? "" : " — no profile yet"}`);
      if (lastState) renderState(lastState);
    } catch (err) {
      if (!(err instanceof Unauthorized)) console.warn("communities failed", err);
    }
  }

  function fillSelect(select, list, label) {
    const chosen = select.value;
    select.replaceChildren(...list.map((c) => el("option", { value: c.id, text: label(c) })));
    if (list.some((c) => c.id === chosen)) select.value = chosen;
  }

  function say(node, text, kind) {
    node.textContent = text;
    node.dataset.kind = kind || "";
  }

  const CHECKIN_STATUS = {
    created: "checked in",
    checked_in: "checked in",
    new: "checked in",
    already_present: "was already checked in",
    moved: "moved",
  };

  async function checkIn(event) {
    event.preventDefault();
    const result = $("checkin-result");
    const member = $("member-id").value.trim();
    const community = $("community-select").value;
    if (!member) {
      say(result, "Enter a member id.", "error");
      $("member-id").focus();
      return;
    }
    if (!community) {
      say(result, "Choose a community.", "error");
      return;
    }
    try {
      const response = await api("/api/v1/checkins", { method: "POST", json: { member_id: member, community_id: community } });
      const body = await bodyOf(response);
      if (response.ok) {
        const status = CHECKIN_STATUS[body.status] || body.status || (response.status === 201 ? "checked in" : "already here");
        say(result, `${body.member_id ?? member} ${status} (${body.community_id ?? community}).`, "ok");
        $("member-id").value = "";
        $("member-id").focus(); // the stream's checkin event refreshes who is here
      } else {
        say(result, `Not checked in: ${detailText(body.detail) || response.status}`, "error");
      }
    } catch (err) {
      if (!(err instanceof Unauthorized)) say(result, "Cannot reach the venue controller.", "error");
    }
  }

  async function checkOut(memberId) {
    const result = $("checkin-result");
    const member = (memberId ?? $("member-id").value).trim();
    if (!member) {
      say(result, "Enter the member id to check out.", "error");
      $("member-id").focus();
      return;
    }
    try {
      const response = await api("/api/v1/checkouts", { method: "POST", json: { member_id: member } });
      const body = await bodyOf(response);
      if (response.ok) {
        say(result, `${member} checked out.`, "ok");
        if (memberId === undefined) $("member-id").value = "";
      } else {
        say(result, `Not checked out: ${detailText(body.detail) || response.status}`, "error");
      }
    } catch (err) {
      if (!(err instanceof Unauthorized)) say(result, "Cannot reach the venue controller.", "error");
    }
  }

  // ---- event log and stream -------------------------------------------------------------------------------

  function compact(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value !== "object") return String(value);
    return Object.entries(value)
      .map(([k, v]) => `${k}=${v !== null && typeof v === "object" ? JSON.stringify(v) : v}`)
      .join(" ");
  }

  function describeState(kind, s) {
    if (!s) return "–";
    if (kind === "light") return describeLight(s);
    if (kind === "thermostat") {
      return [typeof s.target_c === "number" ? `set ${num(s.target_c, 1)} °C` : null, s.mode,
        typeof s.local_temp_c === "number" ? `room ${num(s.local_temp_c, 1)} °C` : null].filter(Boolean).join(" · ");
    }
    if (kind === "speaker") {
      return [s.state, s.playlist, typeof s.volume === "number" ? `volume ${num(s.volume)} %` : null].filter(Boolean).join(" · ");
    }
    if (kind === "scent") {
      return s.on === false ? "off" : [s.name, typeof s.intensity === "number" ? `${num(s.intensity)} %` : null].filter(Boolean).join(" · ");
    }
    return compact(s);
  }

  function describe(e) {
    switch (e.type) {
      case "checkin":
        return `${e.member_id} checked in to ${e.community_id}` + (e.moved_from ? ` (moved from ${e.moved_from})` : "") +
          (typeof e.present === "number" ? ` · ${e.present} here` : "") + (e.source ? ` · via ${e.source}` : "");
      case "checkout":
        return `${e.member_id} checked out of ${e.community_id}` +
          (typeof e.present === "number" ? ` · ${e.present} left` : "") + (e.source ? ` · via ${e.source}` : "");
      case "checkin_expired":
        return `${e.member_id}'s check-in to ${e.community_id} expired`;
      case "profile_activated":
        if (!e.community_id) return "no profile is active";
        return `${e.community_id} is now active (${SOURCES[e.source] || e.source})` +
          (e.previous && e.previous !== e.community_id ? `, was ${e.previous}` : "");
      case "profile_forced":
        return e.community_id ? `${e.community_id} forced by an operator` + (e.source ? ` · via ${e.source}` : "")
          : "forcing ended: who is here decides again";
      case "phase_changed":
        return `phase ${e.phase ?? "base"}` + (e.community_id ? ` for ${e.community_id}` : "") +
          (e.previous ? `, was ${e.previous}` : "");
      case "ambience_applied":
        return `ambience set for ${e.community_id ?? "no one"}` + (e.phase ? ` (${e.phase})` : "") +
          (e.zones ? `: ${Object.keys(e.zones).map((z) => (z === "*" ? "whole venue" : z)).join(", ")}` : "");
      case "command_sent":
        return `sent to ${e.device_id}: ${compact(e.payload)}`;
      case "device_state":
        return `${e.device_id} reports ${describeState(e.kind, e.state)}`;
      case "device_online":
        return `${e.device_id} is online`;
      case "device_offline":
        return `${e.device_id} went offline`;
      case "profile_updated":
        return `${e.community_id} profile saved` + (e.version !== undefined ? ` (version ${e.version}` +
          (e.author ? ` by ${e.author}` : "") + ")" : "");
      case "limit_clamped":
        return `${e.field}${e.zone && e.zone !== "*" ? ` in ${e.zone}` : ""} limited to ${e.applied} ` +
          `(asked ${e.requested}; ${e.limit})`;
      case "manual_override":
        return `${e.device_id ?? "a device"} was changed by hand` + (e.fields ? `: ${compact(e.fields)}` : "");
      case "input_rejected":
        return `rejected input on ${e.topic}: ${detailText(e.errors)}`;
      default: {
        const { id, ts, venue, type, ...rest } = e;
        return `${type} ${compact(rest)}`;
      }
    }
  }

  function showTraffic() {
    return $("log-traffic").checked;
  }

  function addEvents(batch, fresh) {
    const added = [];
    for (const e of batch) {
      const id = Number(e.id);
      if (Number.isFinite(id)) {
        if (id <= highestId) continue; // seen already (history overlapping the stream)
        highestId = id;
      }
      events.unshift(e);
      added.push(e);
    }
    if (events.length > LOG_KEEP) events.length = LOG_KEEP;
    if (!added.length) return;
    if (!fresh) {
      renderLog();
      return;
    }
    // Live events go on top one by one, so a screen reader (role="log") hears only what is new.
    const list = $("event-log");
    const traffic = showTraffic();
    for (const e of added) {
      if (traffic || !TRAFFIC.has(e.type)) list.prepend(logItem(e, true));
    }
    while (list.children.length > LOG_MAX) list.lastElementChild.remove();
  }

  function logItem(e, fresh) {
    return el("li", { "data-event-id": String(e.id), "data-event-type": e.type, class: fresh ? "fresh" : "" },
      el("time", { dateTime: e.ts, text: clock(e.ts) }),
      el("span", { class: "text", text: describe(e) }));
  }

  function renderLog() {
    const traffic = showTraffic();
    const shown = events.filter((e) => traffic || !TRAFFIC.has(e.type)).slice(0, LOG_MAX);
    $("event-log").replaceChildren(...shown.map((e) => logItem(e, false)));
  }

  async function newestEventId(gen) {
    // The record pages oldest first from a cursor (`since`), so find its newest id by probing with limit=1:
    // doubling, then halving; about 2·log2(id) tiny indexed reads, instead of reading the whole record.
    const after = async (since) => {
      const response = await api(`/api/v1/events?since=${since}&limit=1`);
      if (!response.ok) throw new Error(`events answered ${response.status}`);
      return (await response.json()).events.length > 0;
    };
    if (!(await after(0))) return 0;
    let lo = 0; // some event has an id > lo
    let hi = 1024; // ... and, once found, none has an id > hi
    while (await after(hi)) {
      if (gen !== generation) return 0;
      lo = hi;
      hi *= 2;
    }
    while (hi - lo > 1 && gen === generation) {
      const mid = Math.floor((lo + hi) / 2);
      if (await after(mid)) lo = mid;
      else hi = mid;
    }
    return hi;
  }

  async function loadRecentEvents(gen) {
    // The log opens with the last LOG_KEEP events, and the stream then resumes right after the last one read.
    try {
      const newest = await newestEventId(gen);
      let since = Math.max(0, newest - LOG_KEEP);
      const recent = [];
      for (let page = 0; page < 20 && gen === generation; page += 1) {
        const response = await api(`/api/v1/events?since=${since}&limit=1000`);
        if (!response.ok) return;
        const body = await response.json();
        const batch = body.events || [];
        if (!batch.length) break;
        recent.push(...batch);
        since = body.next_since ?? batch[batch.length - 1].id;
      }
      if (gen !== generation) return;
      if (recent.length > LOG_KEEP) recent.splice(0, recent.length - LOG_KEEP);
      addEvents(recent, false);
      lastEventId = String(since);
    } catch (err) {
      if (!(err instanceof Unauthorized)) console.warn("event history failed", err);
    }
  }

  function setConnection(state, text) {
    const node = $("connection");
    node.dataset.state = state;
    node.textContent = text;
  }

  async function streamLoop(gen) {
    let delay = BACKOFF_MIN_MS;
    while (gen === generation) {
      const controller = new AbortController();
      streamAbort = controller;
      setConnection("connecting", "connecting…");
      let opened = false;
      try {
        const headers = { Authorization: `Bearer ${token}`, Accept: "text/event-stream" };
        if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
        const response = await fetch("/api/v1/events/stream", { headers, signal: controller.signal, cache: "no-store" });
        if (response.status === 401) {
          if (gen === generation) needToken("The venue did not accept the token; sign in again.");
          return;
        }
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        opened = true;
        delay = BACKOFF_MIN_MS;
        setConnection("live", "live");
        scheduleRefresh(); // whatever changed while we were away
        await readStream(response.body, gen, controller);
      } catch (err) {
        if (gen !== generation) return;
        if (!(err && err.name === "AbortError")) console.warn("event stream:", err);
      }
      if (gen !== generation) return;
      const wait = Math.round(delay * (0.8 + Math.random() * 0.4));
      if (navigator.onLine === false) setConnection("error", "offline: no network");
      else setConnection(opened ? "retrying" : "error", `reconnecting in ${Math.max(1, Math.round(wait / 1000))} s`);
      await backoff(wait);
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
    }
  }

  async function readStream(body, gen, controller) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let watchdog = setTimeout(() => controller.abort(), STREAM_SILENCE_MS);
    let buffer = "";
    let type = "";
    let id = null;
    let data = [];
    try {
      while (gen === generation) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(watchdog);
        watchdog = setTimeout(() => controller.abort(), STREAM_SILENCE_MS);
        buffer += value;
        let start = 0;
        for (;;) {
          const match = /\r\n|\r|\n/g;
          match.lastIndex = start;
          const found = match.exec(buffer);
          if (!found) break;
          if (found[0] === "\r" && found.index === buffer.length - 1) break; // maybe half of a \r\n: wait
          const line = buffer.slice(start, found.index);
          start = found.index + found[0].length;
          if (line === "") {
            if (data.length) dispatch(type || "message", id, data.join("\n"));
            type = "";
            data = [];
            continue;
          }
          if (line.startsWith(":")) continue; // a comment: keep-alive
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? "" : line.slice(colon + 1);
          if (val.startsWith(" ")) val = val.slice(1);
          if (field === "data") data.push(val);
          else if (field === "event") type = val;
          else if (field === "id" && !val.includes("\0")) id = val;
        }
        buffer = buffer.slice(start);
      }
    } finally {
      clearTimeout(watchdog);
      reader.cancel().catch(() => {});
    }
  }

  function dispatch(type, id, data) {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (!event || typeof event !== "object") return;
    if (event.type === undefined) event.type = type;
    if (event.id === undefined && id !== null) event.id = id;
    if (id !== null) lastEventId = id;
    addEvents([event], true);
    if (REFRESHING.has(event.type)) scheduleRefresh();
    if (event.type === "profile_updated") {
      loadCommunities();
      profileChangedElsewhere(event);
    }
  }

  // ---- profile editor ---------------------------------------------------------------------------------------

  const editor = { community: null, etag: null, loadedText: "", errors: [], saving: false };

  async function loadProfile() {
    const community = $("profile-community").value;
    const status = $("profile-status");
    if (!community) {
      say(status, "Choose a community.", "error");
      return;
    }
    say(status, `Loading ${community}…`, "");
    try {
      const response = await api(`/api/v1/communities/${encodeURIComponent(community)}/profile`);
      const body = await bodyOf(response);
      let text;
      if (response.ok) {
        text = JSON.stringify(body, null, 2);
        setEtag(response.headers.get("ETag"));
        say(status, `Loaded ${community}'s profile.`, "ok");
      } else if (response.status === 404) {
        const c = communities.find((x) => x.id === community);
        text = JSON.stringify({
          community_id: community,
          name: (c && c.name) || community,
          lighting: { on: true, brightness: 60, color_temp_k: 3000 },
        }, null, 2);
        setEtag(null);
        say(status, `${community} has no profile yet: this is a starting point; saving creates it.`, "");
      } else {
        say(status, `Could not load: ${detailText(body.detail) || response.status}`, "error");
        return;
      }
      editor.community = community;
      editor.loadedText = text;
      const area = $("profile-text");
      area.value = text;
      area.scrollTop = 0;
      area.disabled = false;
      $("profile-save").disabled = false;
      $("profile-conflict").hidden = true;
      setErrors([]);
    } catch (err) {
      if (!(err instanceof Unauthorized)) say(status, "Cannot reach the venue controller.", "error");
    }
  }

  function setEtag(etag) {
    editor.etag = etag;
    const node = $("profile-etag");
    node.dataset.etag = etag || "";
    node.textContent = etag ? `ETag ${etag.replace(/^W\//, "").replace(/"/g, "")}` : "";
  }

  async function saveProfile(event) {
    event.preventDefault();
    const status = $("profile-status");
    const area = $("profile-text");
    const community = editor.community;
    if (!community) return;
    let parsed;
    try {
      parsed = JSON.parse(area.value);
    } catch (err) {
      const line = jsonErrorLine(String(err.message), area.value);
      setErrors([{ path: line === null ? "(JSON)" : `line ${line + 1}`, message: `not valid JSON: ${err.message}` }],
        line === null ? [] : [line]);
      say(status, "Not saved: the text is not valid JSON.", "error");
      return;
    }
    say(status, "Saving…", "");
    $("profile-save").disabled = true;
    editor.saving = true; // our own profile_updated event may arrive before the answer
    try {
      const headers = {};
      if (editor.etag) headers["If-Match"] = editor.etag;
      const response = await api(`/api/v1/communities/${encodeURIComponent(community)}/profile`,
        { method: "PUT", headers, json: parsed });
      const body = await bodyOf(response);
      if (response.ok) {
        setEtag(response.headers.get("ETag") || (body && body.etag) || null);
        editor.loadedText = area.value;
        setErrors([]);
        $("profile-conflict").hidden = true;
        say(status, `Saved ${community}'s profile.`, "ok");
      } else if (response.status === 422) {
        const list = Array.isArray(body.detail) ? body.detail.map(fieldError) : [{ path: "", message: detailText(body.detail) }];
        setErrors(list);
        say(status, `Not saved: ${list.length} error${list.length === 1 ? "" : "s"} in the profile.`, "error");
      } else if (response.status === 412) {
        $("profile-mine-text").textContent = area.value;
        $("profile-conflict").hidden = false;
        say(status, "Not saved: someone else changed this profile since you loaded it.", "error");
        $("profile-reload").focus();
      } else if (response.status === 403) {
        say(status, `Not saved: this token may not edit ${community}'s profile.`, "error");
      } else {
        say(status, `Not saved: ${detailText(body.detail) || response.status}`, "error");
      }
    } catch (err) {
      if (!(err instanceof Unauthorized)) say(status, "Cannot reach the venue controller.", "error");
    } finally {
      editor.saving = false;
      $("profile-save").disabled = false;
    }
  }

  function profileChangedElsewhere(event) {
    if (editor.saving || event.community_id !== editor.community || !event.etag) return;
    if (sameEtag(event.etag, editor.etag)) return;
    const area = $("profile-text");
    if (area.value === editor.loadedText) {
      loadProfile(); // nothing of ours to lose: follow the change
    } else {
      say($("profile-status"), `${event.community_id}'s profile was just changed elsewhere` +
        (event.author ? ` by ${event.author}` : "") + "; saving now will be refused until you reload.", "error");
    }
  }

  function sameEtag(a, b) {
    // Headers carry ETags quoted (maybe weak, W/"..."); events carry them bare.
    const bare = (tag) => String(tag || "").replace(/^W\//, "").replace(/^"|"$/g, "");
    return Boolean(a) && Boolean(b) && bare(a) === bare(b);
  }

  function setErrors(list, forcedLines) {
    editor.errors = list;
    editor.forcedLines = forcedLines || null;
    const ul = $("profile-errors");
    ul.replaceChildren(...list.map((e) => {
      const label = e.path ? `${e.path}: ${e.message}` : e.message;
      const li = el("li", { "data-path": e.path, "data-message": e.message, title: label });
      if (e.path) {
        li.append(el("button", { type: "button", text: e.path, onclick: () => goToError(e) }), `: ${e.message}`);
      } else li.textContent = e.message;
      return li;
    }));
    const area = $("profile-text");
    area.setAttribute("aria-invalid", list.length ? "true" : "false");
    paintEditor();
    const first = Math.min(...errorLines());
    if (Number.isFinite(first)) {
      area.scrollTop = Math.max(0, first * LINE_PX - area.clientHeight / 3); // show the first marked line
      syncScroll();
    }
  }

  function errorLines() {
    if (editor.forcedLines) return new Set(editor.forcedLines);
    const text = $("profile-text").value;
    const index = locate(text);
    const lines = new Set();
    for (const e of editor.errors) {
      const line = lineOfPath(e.path, index, text);
      if (line !== null) lines.add(line);
    }
    return lines;
  }

  function paintEditor() {
    const area = $("profile-text");
    const lines = area.value.split("\n");
    const bad = errorLines();
    $("profile-gutter").replaceChildren(...lines.map((_, i) => el("div", { class: bad.has(i) ? "bad" : "", text: String(i + 1) })));
    $("profile-backdrop").replaceChildren(...lines.map((line, i) =>
      el("div", { class: bad.has(i) ? "bad" : "", "data-line": i + 1, text: line || " " })));
    syncScroll();
  }

  function syncScroll() {
    const area = $("profile-text");
    $("profile-backdrop").scrollTop = area.scrollTop;
    $("profile-backdrop").scrollLeft = area.scrollLeft;
    $("profile-gutter").scrollTop = area.scrollTop;
  }

  function goToError(e) {
    const area = $("profile-text");
    const line = lineOfPath(e.path, locate(area.value), area.value);
    area.focus();
    if (line === null) return;
    const lines = area.value.split("\n");
    let start = 0;
    for (let i = 0; i < line; i += 1) start += lines[i].length + 1;
    area.setSelectionRange(start, start + lines[line].length);
    area.scrollTop = Math.max(0, line * LINE_PX - area.clientHeight / 3);
    syncScroll();
  }

  function jsonErrorLine(message, text) {
    const lineCol = /line (\d+) column/.exec(message);
    if (lineCol) return Number(lineCol[1]) - 1;
    const pos = /position (\d+)/.exec(message);
    if (pos) return text.slice(0, Number(pos[1])).split("\n").length - 1;
    return null;
  }

  // Where each value of a JSON text is: "a.b.0.c" -> the line of its key (or of the element, in an array).
  // A small scanner rather than JSON.parse, since the parser forgets positions; it gives up quietly on bad JSON.
  function locate(text) {
    const index = new Map();
    let i = 0;
    let line = 0;
    const ws = () => {
      while (i < text.length && " \t\r\n".includes(text[i])) {
        if (text[i] === "\n") line += 1;
        i += 1;
      }
    };
    const str = () => {
      let out = "";
      i += 1;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\") {
          out += text.slice(i, i + 2);
          i += 2;
        } else {
          if (text[i] === "\n") line += 1;
          out += text[i];
          i += 1;
        }
      }
      i += 1;
      try {
        return JSON.parse(`"${out}"`);
      } catch {
        return out;
      }
    };
    const value = (path, at) => {
      ws();
      if (path.length) index.set(path.join("."), at);
      if (text[i] === "{") {
        i += 1;
        ws();
        if (text[i] === "}") {
          i += 1;
          return;
        }
        for (let guard = 0; guard < 100000 && i < text.length; guard += 1) {
          ws();
          if (text[i] !== '"') throw new Error("key expected");
          const keyLine = line;
          const key = str();
          ws();
          if (text[i] !== ":") throw new Error(": expected");
          i += 1;
          value([...path, key], keyLine);
          ws();
          if (text[i] === ",") {
            i += 1;
            continue;
          }
          if (text[i] === "}") {
            i += 1;
            return;
          }
          throw new Error(", or } expected");
        }
      } else if (text[i] === "[") {
        i += 1;
        ws();
        if (text[i] === "]") {
          i += 1;
          return;
        }
        for (let n = 0; n < 100000 && i < text.length; n += 1) {
          ws();
          value([...path, String(n)], line);
          ws();
          if (text[i] === ",") {
            i += 1;
            continue;
          }
          if (text[i] === "]") {
            i += 1;
            return;
          }
          throw new Error(", or ] expected");
        }
      } else if (text[i] === '"') {
        str();
      } else {
        while (i < text.length && !",}] \t\r\n".includes(text[i])) i += 1;
      }
    };
    try {
      value([], 0);
    } catch {
      // partial index: whatever was found before the error
    }
    return index;
  }

  function lineOfPath(path, index, text) {
    if (!path) return null;
    const parts = String(path).replace(/\[(\d+)\]/g, ".$1").split(".").filter((p) => p !== "" && p !== "body");
    for (let n = parts.length; n > 0; n -= 1) {
      const found = index.get(parts.slice(0, n).join("."));
      if (found !== undefined) return found; // the field itself, or the object a missing field belongs in
    }
    // Not in the document at all: the first line naming the path's last key.
    const last = parts[parts.length - 1];
    const at = text.split("\n").findIndex((l) => l.includes(`"${last}"`));
    return at >= 0 ? at : null;
  }

  // ---- wiring -------------------------------------------------------------------------------------------------

  function init() {
    $("token-form").addEventListener("submit", signIn);
    $("token-dialog").addEventListener("cancel", (e) => e.preventDefault()); // nothing to show without a token
    $("sign-out").addEventListener("click", signOut);
    $("checkin-form").addEventListener("submit", checkIn);
    $("checkout-button").addEventListener("click", () => checkOut());
    $("profile-load").addEventListener("click", loadProfile);
    $("profile-reload").addEventListener("click", loadProfile);
    $("profile-form").addEventListener("submit", saveProfile);
    const area = $("profile-text");
    area.addEventListener("input", () => {
      editor.forcedLines = null;
      paintEditor();
    });
    area.addEventListener("scroll", syncScroll);
    const traffic = $("log-traffic");
    traffic.checked = localStorage.getItem(TRAFFIC_KEY) === "1";
    traffic.addEventListener("change", () => {
      localStorage.setItem(TRAFFIC_KEY, traffic.checked ? "1" : "0");
      renderLog();
    });
    // A tablet's Wi-Fi drops: a stream can hang quietly for long; end it now, and reconnect as soon as it is back.
    window.addEventListener("offline", () => {
      if (streamAbort) streamAbort.abort();
      setConnection("error", "offline: no network");
    });
    window.addEventListener("online", () => {
      if (wake) wake();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && token) scheduleRefresh();
    });
    paintEditor();
    if (token) start();
    else needToken("");
  }

  init();
})();
