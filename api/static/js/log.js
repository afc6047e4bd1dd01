// The event log: opens with the record's recent history, then live events go on top one by one.

import { api, Unauthorized } from "./api.js";
import { el, $ } from "./dom.js";
import { EventBuffer, LOG_KEEP, LOG_MAX, describe, newestEventId, shownInLog } from "./events.js";
import { clock } from "./format.js";

const TRAFFIC_KEY = "ambience.showTraffic";

const buffer = new EventBuffer(LOG_KEEP);

function showTraffic() {
  return $("log-traffic").checked;
}

function logItem(e, fresh) {
  return el("li", { "data-event-id": String(e.id), "data-event-type": e.type, class: fresh ? "fresh" : "" },
    el("time", { dateTime: e.ts, text: clock(e.ts) }),
    el("span", { class: "text", text: describe(e) }));
}

export function renderLog() {
  $("event-log").replaceChildren(...buffer.shown(showTraffic(), LOG_MAX).map((e) => logItem(e, false)));
}

// fresh: live from the stream (each goes on top, so a screen reader on role="log" hears only what is new),
// else history (the list is drawn again).
export function addEvents(batch, fresh) {
  const added = buffer.add(batch);
  if (!added.length) return;
  if (!fresh) {
    renderLog();
    return;
  }
  const list = $("event-log");
  const traffic = showTraffic();
  for (const e of added) {
    if (shownInLog(e, traffic)) list.prepend(logItem(e, true));
  }
  while (list.children.length > LOG_MAX) list.lastElementChild.remove();
}

export function clearLog() {
  $("event-log").replaceChildren();
  buffer.clear();
}

// The last LOG_KEEP events of the record into the log; returns the id the stream should resume after, or null
// when the history could not be read. current() false: the session ended, stop reading.
export async function loadRecentEvents(current) {
  const after = async (since) => {
    const response = await api(`/api/v1/events?since=${since}&limit=1`);
    if (!response.ok) throw new Error(`events answered ${response.status}`);
    return (await response.json()).events.length > 0;
  };
  try {
    const newest = await newestEventId(after, current);
    let since = Math.max(0, newest - LOG_KEEP);
    const recent = [];
    for (let page = 0; page < 20 && current(); page += 1) {
      const response = await api(`/api/v1/events?since=${since}&limit=1000`);
      if (!response.ok) return null;
      const body = await response.json();
      const batch = body.events || [];
      if (!batch.length) break;
      recent.push(...batch);
      since = body.next_since ?? batch[batch.length - 1].id;
    }
    if (!current()) return null;
    if (recent.length > LOG_KEEP) recent.splice(0, recent.length - LOG_KEEP);
    addEvents(recent, false);
    return String(since);
  } catch (err) {
    if (!(err instanceof Unauthorized)) console.warn("event history failed", err);
    return null;
  }
}

// The "show device traffic" toggle, remembered in this browser.
export function bindLog() {
  const traffic = $("log-traffic");
  traffic.checked = localStorage.getItem(TRAFFIC_KEY) === "1";
  traffic.addEventListener("change", () => {
    localStorage.setItem(TRAFFIC_KEY, traffic.checked ? "1" : "0");
    renderLog();
  });
}
