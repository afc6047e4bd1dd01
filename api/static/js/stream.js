// Following /api/v1/events/stream. EventSource cannot send an Authorization header, so the stream is read with
// fetch() and parsed here; it reconnects with back-off and resumes after the last event id seen (Last-Event-ID).
// No DOM: what the page shows of it goes through the callbacks.

import { currentToken } from "./api.js";

export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = 30000;
export const STREAM_SILENCE_MS = 75000; // no byte for this long: assume the connection died quietly and reconnect

// Server-sent events, fed text as it arrives in chunks of any size: onMessage(type, id, data) for each event
// that has data. The id is kept from one event to the next, as the spec's "last event ID" is.
export class SseParser {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.buffer = "";
    this.type = "";
    this.id = null;
    this.data = [];
  }

  feed(chunk) {
    this.buffer += chunk;
    let start = 0;
    for (;;) {
      const match = /\r\n|\r|\n/g;
      match.lastIndex = start;
      const found = match.exec(this.buffer);
      if (!found) break;
      if (found[0] === "\r" && found.index === this.buffer.length - 1) break; // maybe half of a \r\n: wait
      const line = this.buffer.slice(start, found.index);
      start = found.index + found[0].length;
      this.line(line);
    }
    this.buffer = this.buffer.slice(start);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) this.onMessage(this.type || "message", this.id, this.data.join("\n"));
      this.type = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return; // a comment: keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let val = colon < 0 ? "" : line.slice(colon + 1);
    if (val.startsWith(" ")) val = val.slice(1);
    if (field === "data") this.data.push(val);
    else if (field === "event") this.type = val;
    else if (field === "id" && !val.includes("\0")) this.id = val;
  }
}

// One event of the venue from an SSE message: its JSON, with the type and id from the SSE fields when the data
// lacks them; null for anything that is not a JSON object.
export function eventOf(type, id, data) {
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    return null;
  }
  if (!event || typeof event !== "object") return null;
  if (event.type === undefined) event.type = type;
  if (event.id === undefined && id !== null) event.id = id;
  return event;
}

// Follows the stream until stop(). Options:
//   lastEventId   where to resume (the last id the log read), or null
//   onEvent(e)    each event, in order
//   onStatus(state, text)  connecting | live | retrying | error, and the words for it
//   onOpen()      each time a connection opens (whatever changed while away needs a re-read)
//   onUnauthorized()  the token was refused: the loop has ended
//   fetch, random, isOnline, backoffMinMs, backoffMaxMs, silenceMs: for tests
// Returns {stop, drop (end this connection now: the network went), wake (end the back-off wait now: it is back),
// lastEventId (), done (a promise that settles when the loop ends)}.
export function follow(options) {
  const get = options.fetch ?? ((...args) => globalThis.fetch(...args));
  const random = options.random ?? Math.random;
  const isOnline = options.isOnline ?? (() => globalThis.navigator?.onLine !== false);
  const minMs = options.backoffMinMs ?? BACKOFF_MIN_MS;
  const maxMs = options.backoffMaxMs ?? BACKOFF_MAX_MS;
  const silenceMs = options.silenceMs ?? STREAM_SILENCE_MS;
  const onStatus = options.onStatus ?? (() => {});
  let lastEventId = options.lastEventId ?? null;
  let stopped = false;
  let connection = null;
  let wake = null;

  const backoff = (ms) => new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      if (wake === done) wake = null;
      resolve();
    }
    wake = done;
  });

  async function read(body, controller) {
    // A parser per connection: half an event from a dropped one must not run into the next.
    const parser = new SseParser((type, id, data) => {
      const event = eventOf(type, id, data);
      if (event === null) return;
      if (id !== null) lastEventId = id;
      options.onEvent(event);
    });
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let watchdog = setTimeout(() => controller.abort(), silenceMs);
    try {
      while (!stopped) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(watchdog);
        watchdog = setTimeout(() => controller.abort(), silenceMs);
        parser.feed(value);
      }
    } finally {
      clearTimeout(watchdog);
      reader.cancel().catch(() => {});
    }
  }

  async function loop() {
    let delay = minMs;
    while (!stopped) {
      const controller = new AbortController();
      connection = controller;
      onStatus("connecting", "connecting…");
      let opened = false;
      try {
        const headers = { Authorization: `Bearer ${currentToken()}`, Accept: "text/event-stream" };
        if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
        const response = await get("/api/v1/events/stream", { headers, signal: controller.signal, cache: "no-store" });
        if (response.status === 401) {
          if (!stopped && options.onUnauthorized) options.onUnauthorized();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        opened = true;
        delay = minMs;
        onStatus("live", "live");
        if (options.onOpen) options.onOpen();
        await read(response.body, controller);
      } catch (err) {
        if (stopped) return;
        if (!(err && err.name === "AbortError")) console.warn("event stream:", err);
      }
      if (stopped) return;
      const wait = Math.round(delay * (0.8 + random() * 0.4));
      if (!isOnline()) onStatus("error", "offline: no network");
      else onStatus(opened ? "retrying" : "error", `reconnecting in ${Math.max(1, Math.round(wait / 1000))} s`);
      await backoff(wait);
      delay = Math.min(delay * 2, maxMs);
    }
  }

  const done = loop();
  return {
    stop() {
      stopped = true;
      if (connection) connection.abort();
      if (wake) wake();
    },
    drop() {
      if (connection) connection.abort();
    },
    wake() {
      if (wake) wake();
    },
    lastEventId: () => lastEventId,
    done,
  };
}
