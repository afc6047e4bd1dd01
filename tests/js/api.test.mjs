// Requests with the session's token, and the two shapes of error the API answers with.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import {
  api, bodyOf, checkToken, currentToken, detailText, fieldError, REFUSED, setToken, Unauthorized, whenUnauthorized,
} from "../../api/static/js/api.js";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
  setToken(null);
  whenUnauthorized(() => {});
});

// A fetch that answers `status` and remembers what it was asked.
function fakeFetch(status, body = "{}") {
  const calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push({ url, init });
    return new Response(body, { status });
  };
  return calls;
}

test("every request carries the token, no cache, and a JSON body when given one", async () => {
  setToken("tok");
  assert.equal(currentToken(), "tok");
  const calls = fakeFetch(200);
  await api("/api/v1/checkins", { method: "POST", json: { member_id: "ana" } });
  await api("/api/v1/state");
  const [post, get] = calls;
  assert.equal(post.url, "/api/v1/checkins");
  assert.equal(post.init.method, "POST");
  assert.equal(post.init.cache, "no-store");
  assert.equal(post.init.headers.get("Authorization"), "Bearer tok");
  assert.equal(post.init.headers.get("Content-Type"), "application/json");
  assert.equal(post.init.body, '{"member_id":"ana"}');
  assert.equal(get.init.method, "GET");
  assert.equal(get.init.body, undefined);
  assert.equal(get.init.headers.get("Content-Type"), null);
});

test("headers of the caller's are kept (If-Match)", async () => {
  setToken("tok");
  const calls = fakeFetch(200);
  await api("/p", { method: "PUT", headers: { "If-Match": '"e1"' }, body: "{}" });
  assert.equal(calls[0].init.headers.get("If-Match"), '"e1"');
  assert.equal(calls[0].init.body, "{}");
});

test("a 401 tells the session, and the caller gets Unauthorized rather than a response", async () => {
  const told = [];
  whenUnauthorized((message) => told.push(message));
  fakeFetch(401);
  await assert.rejects(api("/api/v1/state"), Unauthorized);
  assert.deepEqual(told, [REFUSED]);
  fakeFetch(403);
  assert.equal((await api("/api/v1/state")).status, 403, "a 403 is the caller's to word");
  assert.equal(told.length, 1);
});

test("checkToken words each refusal, and says nothing of a good token", async () => {
  const calls = fakeFetch(200);
  assert.equal(await checkToken("good"), null);
  assert.equal(calls[0].init.headers.Authorization, "Bearer good");
  fakeFetch(401);
  assert.equal(await checkToken("bad"), "That token was not accepted.");
  fakeFetch(403);
  assert.match(await checkToken("community"), /needs the venue's admin token/);
  fakeFetch(503);
  assert.equal(await checkToken("x"), "The venue answered 503.");
  globalThis.fetch = async () => {
    throw new TypeError("Failed to fetch");
  };
  assert.equal(await checkToken("x"), "Cannot reach the venue controller.");
});

test("bodyOf: JSON, or the text (or the status's words) as the detail", async () => {
  assert.deepEqual(await bodyOf(new Response('{"a": 1}')), { a: 1 });
  assert.deepEqual(await bodyOf(new Response("<h1>Bad Gateway</h1>", { status: 502 })), { detail: "<h1>Bad Gateway</h1>" });
  assert.deepEqual(await bodyOf(new Response("", { status: 502, statusText: "Bad Gateway" })), { detail: "Bad Gateway" });
});

test("error details: ours {path, message}, FastAPI's {loc, msg}, a string, or anything", () => {
  assert.deepEqual(fieldError({ path: "a.b", message: "bad" }), { path: "a.b", message: "bad" });
  assert.deepEqual(fieldError({ loc: ["body", "member_id"], msg: "required" }), { path: "member_id", message: "required" });
  assert.deepEqual(fieldError({ other: 1 }), { path: "", message: '{"other":1}' });
  assert.deepEqual(fieldError("plain"), { path: "", message: "plain" });
  assert.equal(detailText(undefined), "");
  assert.equal(detailText("no such member"), "no such member");
  assert.equal(detailText([{ path: "a", message: "x" }, { loc: ["body", "b"], msg: "y" }]), "a: x; b: y");
  assert.equal(detailText({ code: 7 }), '{"code":7}');
});
