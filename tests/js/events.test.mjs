// The event log's text per type, its buffer, and the search for the record's newest id.
import assert from "node:assert/strict";
import { test } from "node:test";

import { describe, EventBuffer, newestEventId, REFRESHING, shownInLog, TRAFFIC } from "../../api/static/js/events.js";

const base = { id: 1, ts: "2024-05-01T12:00:00Z", venue: "v" };
const text = (type, fields) => describe({ ...base, type, ...fields });

test("people's comings and goings", () => {
  assert.equal(text("checkin", { member_id: "ana", community_id: "book-club", present: 2, source: "http" }),
    "ana checked in to book-club · 2 here · via http");
  assert.equal(text("checkin", { member_id: "ana", community_id: "chess", moved_from: "book-club" }),
    "ana checked in to chess (moved from book-club)");
  assert.equal(text("checkout", { member_id: "ana", community_id: "chess", present: 0 }),
    "ana checked out of chess · 0 left");
  assert.equal(text("checkin_expired", { member_id: "ana", community_id: "chess" }),
    "ana's check-in to chess expired");
});

test("profiles and phases", () => {
  assert.equal(text("profile_activated", { community_id: "chess", source: "community", previous: "house" }),
    "chess is now active (community profile), was house");
  assert.equal(text("profile_activated", { community_id: null }), "no profile is active");
  assert.equal(text("profile_activated", { community_id: "x", source: "odd" }), "x is now active (odd)");
  assert.equal(text("profile_forced", { community_id: "chess", source: "mqtt" }), "chess forced by an operator · via mqtt");
  assert.equal(text("profile_forced", { community_id: null }), "forcing ended: who is here decides again");
  assert.equal(text("phase_changed", { phase: null, community_id: "chess", previous: "peak" }),
    "phase base for chess, was peak");
  assert.equal(text("ambience_applied", { community_id: "chess", phase: "peak", zones: { "*": {}, bar: {} } }),
    "ambience set for chess (peak): whole venue, bar");
  assert.equal(text("profile_updated", { community_id: "chess", version: 3, author: "admin" }),
    "chess profile saved (version 3 by admin)");
  assert.equal(text("profile_updated", { community_id: "chess" }), "chess profile saved");
});

test("devices, limits and the record", () => {
  assert.equal(text("command_sent", { device_id: "lamp", payload: { on: true } }), "sent to lamp: on=true");
  assert.equal(text("device_state", { device_id: "lamp", kind: "light", state: { on: true, brightness: 80 } }),
    "lamp reports on · 80 %");
  assert.equal(text("device_online", { device_id: "lamp" }), "lamp is online");
  assert.equal(text("device_offline", { device_id: "lamp" }), "lamp went offline");
  assert.equal(text("limit_clamped", { field: "brightness", zone: "bar", applied: 90, requested: 120, limit: "max 90" }),
    "brightness in bar limited to 90 (asked 120; max 90)");
  const override = text("manual_override", { device_id: "lamp", changed: { brightness: 10 }, until: "2024-05-01T12:30:00Z" });
  assert.match(override, /^lamp was changed by hand: brightness=10; left alone until \d{1,2}:30:00/);
  assert.equal(text("manual_override", { changed: {} }), "a device was changed by hand");
  assert.equal(text("bridge_error", { bridge: "hall", context: "start", error: "HUE_USER is not set" }),
    "Hue bridge hall (start): HUE_USER is not set");
  assert.equal(text("input_rejected", { topic: "t/x", errors: [{ path: "member_id", message: "is required" }] }),
    "rejected input on t/x: member_id: is required");
  assert.equal(text("retention_held", { wall: "2031-01-01", pruning_by: "2024-05-01" }),
    "the clock says 2031-01-01, the record says at most 2024-05-01: nothing newer is pruned (check the system clock)");
});

test("a type the page does not know is shown with its own fields, not the envelope's", () => {
  assert.equal(text("brand_new", { a: 1 }), "brand_new a=1");
});

test("device traffic is hidden unless asked for, and re-reads follow what changes the API", () => {
  assert.ok(TRAFFIC.has("device_state") && TRAFFIC.has("command_sent"));
  assert.equal(shownInLog({ type: "device_state" }, false), false);
  assert.equal(shownInLog({ type: "device_state" }, true), true);
  assert.equal(shownInLog({ type: "checkin" }, false), true);
  assert.ok(REFRESHING.has("checkin") && REFRESHING.has("device_offline") && !REFRESHING.has("limit_clamped"));
});

test("the buffer keeps the newest first, drops ids seen already, and keeps only so many", () => {
  const buffer = new EventBuffer(3);
  assert.deepEqual(buffer.add([{ id: 1 }, { id: 2 }]).map((e) => e.id), [1, 2]);
  assert.deepEqual(buffer.add([{ id: 2 }, { id: 3 }, { id: 1 }]).map((e) => e.id), [3], "history overlapping the stream");
  assert.deepEqual(buffer.add([{ id: "x" }]).map((e) => e.id), ["x"], "no numeric id: kept");
  buffer.add([{ id: 4 }]);
  assert.deepEqual(buffer.events.map((e) => e.id), [4, "x", 3]);
  buffer.clear();
  assert.deepEqual(buffer.add([{ id: 1 }]).map((e) => e.id), [1], "a new session starts from nothing");
});

test("the buffer shows at most so many, without traffic unless asked", () => {
  const buffer = new EventBuffer();
  buffer.add([{ id: 1, type: "checkin" }, { id: 2, type: "device_state" }, { id: 3, type: "checkout" }]);
  assert.deepEqual(buffer.shown(false, 10).map((e) => e.id), [3, 1]);
  assert.deepEqual(buffer.shown(true, 2).map((e) => e.id), [3, 2]);
});

test("newestEventId finds the highest id with few probes", async () => {
  for (const newest of [0, 1, 7, 1024, 1025, 5000]) {
    let probes = 0;
    const after = async (since) => {
      probes += 1;
      return newest > since;
    };
    assert.equal(await newestEventId(after), newest, `newest ${newest}`);
    assert.ok(probes <= 2 * Math.log2(Math.max(newest, 2)) + 12, `${probes} probes for ${newest}`);
  }
});

test("newestEventId gives up when the session ends", async () => {
  let alive = true;
  const after = async (since) => {
    if (since >= 2048) alive = false;
    return true; // a record that never ends
  };
  assert.equal(await newestEventId(after, () => alive), 0);
});
