// The event stream: SSE parsed from chunks of any size, and the loop that reconnects and resumes.
import assert from "node:assert/strict";
import { after, afterEach, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { setToken } from "../../api/static/js/api.js";
import { eventOf, follow, SseParser } from "../../api/static/js/stream.js";

// The loop warns on the console of each failed connection; here they are expected, and kept for a look.
const warnings = [];
const realWarn = console.warn;
console.warn = (...args) => warnings.push(args);
afterEach(() => setToken(null));
after(() => {
  console.warn = realWarn;
});

function parse(...chunks) {
  const out = [];
  const parser = new SseParser((type, id, data) => out.push([type, id, data]));
  for (const chunk of chunks) parser.feed(chunk);
  return out;
}

test("events, whatever the chunks and line endings", () => {
  const text = 'id: 1\nevent: checkin\ndata: {"a":1}\n\nid: 2\r\ndata: x\r\n\r\n';
  const whole = parse(text);
  assert.deepEqual(whole, [["checkin", "1", '{"a":1}'], ["message", "2", "x"]]);
  assert.deepEqual(parse(...text.split("")), whole, "one character at a time");
  assert.deepEqual(parse("data: a\r", "\n\r", "\n"), [["message", null, "a"]], "a \\r\\n split across chunks");
});

test("comments, multi-line data, fields without a value, and ids", () => {
  assert.deepEqual(parse(": keep-alive\n\n"), [], "a comment is no event");
  assert.deepEqual(parse("data: one\ndata:two\n\n"), [["message", null, "one\ntwo"]]);
  assert.deepEqual(parse("event: x\n\n"), [], "no data: no event");
  assert.deepEqual(parse("id: 5\ndata: a\n\ndata: b\n\n"), [["message", "5", "a"], ["message", "5", "b"]],
    "the last id carries on");
  assert.deepEqual(parse("id: 5\ndata: a\n\nid: 6\0\ndata: b\n\n").map((e) => e[1]), ["5", "5"], "an id with NUL is ignored");
  assert.deepEqual(parse("data\n\n"), [["message", null, ""]]);
});

test("eventOf: a JSON object with the SSE type and id filled in, or nothing", () => {
  assert.deepEqual(eventOf("checkin", "7", '{"member_id":"ana"}'), { member_id: "ana", type: "checkin", id: "7" });
  assert.deepEqual(eventOf("message", "7", '{"type":"checkout","id":8}'), { type: "checkout", id: 8 });
  assert.equal(eventOf("message", null, "not json"), null);
  assert.equal(eventOf("message", null, "42"), null);
  assert.equal(eventOf("message", null, "null"), null);
});

// A server whose stream answers in turn: each entry a status and, for 200, the SSE text it sends and ends.
function server(...answers) {
  const requests = [];
  const fetch = async (url, init) => {
    requests.push({ url, headers: init.headers });
    const [status, text] = answers.shift() ?? [200, null];
    if (text === null) {
      // Open and silent until aborted.
      const body = new ReadableStream({
        start(controller) {
          init.signal.addEventListener("abort", () => controller.error(new DOMException("aborted", "AbortError")));
        },
      });
      return new Response(body, { status });
    }
    return new Response(text, { status });
  };
  return { requests, fetch };
}

const quick = { backoffMinMs: 5, backoffMaxMs: 20, random: () => 0.5, isOnline: () => true };

async function until(check, what) {
  for (let i = 0; i < 200; i += 1) {
    if (check()) return;
    await sleep(5);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("it reconnects after the stream ends, and resumes after the last id it saw", async () => {
  setToken("tok");
  const venue = server(
    [200, 'id: 11\ndata: {"type":"checkin"}\n\nid: 12\ndata: {"type":"checkout"}\n\n'],
    [503, ""],
    [200, 'id: 13\ndata: {"type":"checkin"}\n\n'],
  );
  const events = [];
  const statuses = [];
  let opened = 0;
  const stream = follow({
    ...quick, fetch: venue.fetch, lastEventId: "10",
    onEvent: (e) => events.push(e), onStatus: (s) => statuses.push(s), onOpen: () => { opened += 1; },
  });
  await until(() => events.length === 3 && venue.requests.length === 4, "three events");
  stream.stop();
  await stream.done;
  assert.deepEqual(events.map((e) => e.id), ["11", "12", "13"]);
  assert.deepEqual(venue.requests.map((r) => r.headers["Last-Event-ID"]), ["10", "12", "12", "13"]);
  assert.equal(venue.requests[0].headers.Authorization, "Bearer tok");
  assert.equal(venue.requests[0].headers.Accept, "text/event-stream");
  assert.equal(venue.requests[0].url, "/api/v1/events/stream");
  assert.equal(opened, 3);
  assert.deepEqual(statuses.slice(0, 7), ["connecting", "live", "retrying", "connecting", "error", "connecting", "live"]);
  assert.equal(stream.lastEventId(), "13");
  assert.ok(warnings.some(([what, err]) => what === "event stream:" && /answered 503/.test(err.message)));
});

test("with no id yet it asks from the start, and an unreadable event changes nothing", async () => {
  const venue = server([200, "data: not json\n\nid: 3\ndata: 42\n\n"]);
  const events = [];
  const stream = follow({ ...quick, fetch: venue.fetch, lastEventId: null, onEvent: (e) => events.push(e) });
  await until(() => venue.requests.length === 2, "a second connection");
  stream.stop();
  await stream.done;
  assert.equal(venue.requests[0].headers["Last-Event-ID"], undefined);
  assert.equal(venue.requests[1].headers["Last-Event-ID"], undefined, "no valid event: nothing to resume after");
  assert.deepEqual(events.length, 0);
});

test("a refused token ends the loop and says so once", async () => {
  const venue = server([401, ""]);
  let refused = 0;
  const stream = follow({ ...quick, fetch: venue.fetch, onEvent: () => {}, onUnauthorized: () => { refused += 1; } });
  await stream.done;
  assert.equal(refused, 1);
  assert.equal(venue.requests.length, 1);
});

test("a silent connection is given up after the silence limit; drop() and wake() act at once", async () => {
  const venue = server([200, null], [200, null], [200, null], [200, null]);
  const statuses = [];
  const stream = follow({
    ...quick, silenceMs: 30, backoffMinMs: 10_000, backoffMaxMs: 10_000, fetch: venue.fetch, onEvent: () => {},
    onStatus: (state, text) => statuses.push([state, text]),
  });
  await until(() => statuses.some(([s]) => s === "retrying"), "the watchdog");
  assert.deepEqual(statuses.at(-1), ["retrying", "reconnecting in 10 s"]);
  stream.wake(); // the network is back: no waiting out the back-off
  await until(() => venue.requests.length === 2, "the reconnection");
  await until(() => statuses.at(-1)[0] === "live", "live again");
  stream.drop(); // the network went: end this connection now
  await until(() => statuses.at(-1)[0] === "retrying", "the dropped connection");
  stream.stop();
  await stream.done;
  assert.equal(venue.requests.length, 2);
});

test("offline, it says so rather than counting down", async () => {
  const venue = server([503, ""]);
  const statuses = [];
  const stream = follow({ ...quick, isOnline: () => false, fetch: venue.fetch, onEvent: () => {},
    onStatus: (state, text) => statuses.push([state, text]) });
  await until(() => statuses.length >= 2, "a status");
  stream.stop();
  await stream.done;
  assert.deepEqual(statuses[1], ["error", "offline: no network"]);
});
