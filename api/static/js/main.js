// ambience venue dashboard: ES modules, no build step, no external resources. This entry wires the parts: a
// session starts on a token, reads /api/v1/state, /devices and /communities, and follows the event stream.

import { api, currentToken, REFUSED, Unauthorized, whenUnauthorized } from "./api.js";
import { loadCommunities } from "./communities.js";
import { $ } from "./dom.js";
import { bindEditor, paintEditor, profileChangedElsewhere } from "./editor.js";
import { REFRESHING } from "./events.js";
import { addEvents, bindLog, clearLog, loadRecentEvents } from "./log.js";
import { bindCheckins, clearPresence, renderState, rerenderState } from "./presence.js";
import { coalesced } from "./refresh.js";
import { askForToken, bindSignIn, restoreToken } from "./session.js";
import { follow } from "./stream.js";
import { clearTiles, renderDevices } from "./tiles.js";

const REFRESH_DEBOUNCE_MS = 150;
// A slow re-read in case an event was missed; a page that embeds the dashboard (or a test proving that the
// stream alone drives the tiles) may set window.ambienceSafetyRefreshMs before this script runs, 0 to turn it off.
const SAFETY_REFRESH_MS = Number(window.ambienceSafetyRefreshMs ?? 10000);

let generation = 0; // bumped on sign-in/out: loops of an older session stop
let stream = null;
let safetyTimer = null;

const rereads = coalesced(async (current) => {
  if (currentToken() === null) return;
  try {
    const [stateRes, devicesRes] = await Promise.all([api("/api/v1/state"), api("/api/v1/devices")]);
    if (!current()) return;
    if (stateRes.ok) renderState(await stateRes.json());
    if (devicesRes.ok) renderDevices(await devicesRes.json());
  } catch (err) {
    if (!(err instanceof Unauthorized)) console.warn("refresh failed", err);
  }
}, REFRESH_DEBOUNCE_MS);

async function refreshCommunities() {
  if (await loadCommunities()) rerenderState(); // the names beside the ids
}

function setConnection(state, text) {
  const node = $("connection");
  node.dataset.state = state;
  node.textContent = text;
}

function onEvent(event) {
  addEvents([event], true);
  if (REFRESHING.has(event.type)) rereads.soon();
  if (event.type === "profile_updated") {
    refreshCommunities();
    profileChangedElsewhere(event);
  }
}

function stop() {
  generation += 1;
  if (stream) stream.stop();
  stream = null;
  clearInterval(safetyTimer);
  safetyTimer = null;
  rereads.cancel();
}

function start() {
  stop();
  const gen = generation;
  const current = () => gen === generation;
  $("main").hidden = false;
  $("sign-out").hidden = false;
  rereads.now();
  refreshCommunities();
  // The stream resumes right after the last event of the history, so none is missed or shown twice.
  loadRecentEvents(current).then((lastEventId) => {
    if (!current()) return;
    stream = follow({
      lastEventId,
      onEvent,
      onStatus: setConnection,
      onOpen: () => rereads.soon(), // whatever changed while we were away
      onUnauthorized: () => needToken(REFUSED),
    });
  });
  if (SAFETY_REFRESH_MS > 0) {
    safetyTimer = setInterval(() => {
      rereads.now();
      refreshCommunities();
    }, SAFETY_REFRESH_MS);
  }
}

function needToken(message) {
  stop();
  setConnection("idle", "signed out");
  askForToken(message);
}

function signOut(event) {
  event.preventDefault();
  needToken("Signed out.");
  $("main").hidden = true;
  clearTiles();
  clearPresence();
  clearLog();
}

function init() {
  whenUnauthorized(needToken);
  bindSignIn(start);
  $("sign-out").addEventListener("click", signOut);
  bindCheckins();
  bindEditor();
  bindLog();
  // A tablet's Wi-Fi drops: a stream can hang quietly for long; end it now, and reconnect as soon as it is back.
  window.addEventListener("offline", () => {
    if (stream) stream.drop();
    setConnection("error", "offline: no network");
  });
  window.addEventListener("online", () => {
    if (stream) stream.wake();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && currentToken()) rereads.soon();
  });
  paintEditor();
  if (restoreToken()) start();
  else needToken("");
}

init();
