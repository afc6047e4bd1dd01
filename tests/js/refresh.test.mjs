// Re-reads of the API, coalesced.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { coalesced } from "../../api/static/js/refresh.js";

// A re-read that takes until release() is called.
function slowRun() {
  const runs = [];
  let release = () => {};
  const run = (current) => {
    runs.push(current);
    return new Promise((resolve) => {
      release = resolve;
    });
  };
  return { runs, run, release: () => release() };
}

test("a call while one runs asks for one more after it, however many calls there were", async () => {
  const slow = slowRun();
  const rereads = coalesced(slow.run, 5);
  const first = rereads.now();
  rereads.now();
  rereads.now();
  rereads.soon();
  assert.equal(slow.runs.length, 1);
  slow.release();
  await first;
  await sleep(30);
  assert.equal(slow.runs.length, 2, "exactly one more");
  slow.release();
  await sleep(30);
  assert.equal(slow.runs.length, 2);
});

test("soon() runs once per debounce window, however often it is called", async () => {
  let runs = 0;
  const rereads = coalesced(async () => {
    runs += 1;
  }, 20);
  for (let i = 0; i < 10; i += 1) rereads.soon();
  await sleep(60);
  assert.equal(runs, 1);
});

test("cancel() drops a pending re-read and tells a running one its session ended", async () => {
  const slow = slowRun();
  const rereads = coalesced(slow.run, 5);
  const running = rereads.now();
  assert.equal(slow.runs[0](), true);
  rereads.cancel();
  assert.equal(slow.runs[0](), false);
  slow.release();
  await running;

  let later = 0;
  const other = coalesced(async () => {
    later += 1;
  }, 10);
  other.soon();
  other.cancel();
  await sleep(40);
  assert.equal(later, 0);
});
