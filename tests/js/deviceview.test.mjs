// What a device tile shows, from one entry of GET /api/v1/devices.
import assert from "node:assert/strict";
import { test } from "node:test";

import { syncOf, tileView } from "../../api/static/js/deviceview.js";

const NOW = Date.parse("2024-05-01T12:00:00Z");
const lamp = (fields) => ({
  id: "lamp-1", kind: "light", zone: "lounge", driver: "z2m", supported: true, online: true,
  last_seen: "2024-05-01T11:59:30Z", pending: null,
  desired: { on: true, brightness: 80, color_temp_k: 2700, color_hex: "#ffb35c" },
  reported: { on: true, brightness: 80, color_temp_k: 2703, color_hex: "#ffb35c" },
  in_sync: true,
  ...fields,
});

test("a lit lamp: its colour on the swatch, its brightness as the headline, both states in the rows", () => {
  const view = tileView(lamp(), NOW);
  assert.deepEqual(view.swatch, { background: "#ffb35c", color: "#14161a" });
  assert.equal(view.headline, "80 %");
  assert.deepEqual(view.data, {
    kind: "light", zone: "lounge", driver: "z2m", online: "true", pending: "false", sync: "true",
    color: "#ffb35c", light: "on", brightness: "80",
  });
  assert.deepEqual(view.rows, [
    { key: "reported", dot: "#ffb35c", value: "on · 80 % · 2700 K" },
    { key: "desired", dot: "#ffb35c", value: "on · 80 % · 2700 K" },
    { key: "last seen", value: "30 s ago", time: "2024-05-01T11:59:30Z" },
  ]);
  assert.equal(view.zoneText, "light · lounge");
  assert.deepEqual(view.net, { text: "online", className: "badge net online" });
  assert.equal(view.label, "lamp-1 in lounge: light, reported on · 80 % · 2700 K, desired on · 80 % · 2700 K; online");
});

test("a lamp that is off, or has said nothing yet", () => {
  const off = tileView(lamp({ reported: { on: false, brightness: 80, color_hex: "#ffb35c" } }), NOW);
  assert.equal(off.headline, "off");
  assert.equal(off.data.light, "off");
  assert.equal(off.data.color, "");
  assert.equal(off.swatch.background, "");
  const silent = tileView(lamp({ reported: null, online: null, last_seen: null, desired: null, in_sync: false }), NOW);
  assert.equal(silent.headline, "–");
  assert.equal(silent.data.light, "unknown");
  assert.deepEqual(silent.net, { text: "no news", className: "badge net " });
  assert.deepEqual(silent.rows.at(-1), { key: "last seen", value: "never" });
  assert.deepEqual(silent.rows[1], { key: "desired", dot: "", value: "nothing" });
  assert.match(silent.label, /; status unknown$/);
});

test("in sync is the server's word: no tolerance of the page's own", () => {
  // 84 % against 80 % was "differs" by the page's old 1.5 %; now the server's in_sync decides, whatever the numbers.
  const near = lamp({ reported: { on: true, brightness: 84, color_temp_k: 2700, color_hex: "#ffb35c" }, in_sync: true });
  assert.equal(tileView(near).drift, false);
  assert.equal(tileView(near).data.sync, "true");
  // Identical numbers, and yet the server says it differs (in a field the page does not show, say): it does.
  const off = lamp({ in_sync: false });
  assert.equal(tileView(off).drift, true);
  assert.equal(tileView(off).data.sync, "false");
});

test("no 'differs' while a command is on its way, nor while either side is unknown", () => {
  assert.equal(tileView(lamp({ in_sync: false, pending: { brightness: 80 } })).drift, false);
  assert.equal(tileView(lamp({ in_sync: false, pending: { brightness: 80 } })).pending, true);
  assert.equal(syncOf(lamp({ in_sync: false, reported: null })), "unknown");
  assert.equal(syncOf(lamp({ in_sync: false, desired: null })), "unknown");
  assert.equal(syncOf(lamp({ in_sync: undefined })), "unknown", "a server that does not say");
  assert.equal(tileView(lamp({ in_sync: undefined })).drift, false);
});

test("a thermostat, a speaker and a diffuser", () => {
  const hvac = tileView({
    id: "hvac", kind: "thermostat", zone: "*", driver: "z2m", online: true, in_sync: true, pending: null,
    desired: { target_c: 22, mode: "auto" }, reported: { target_c: 21.5, mode: "heat", local_temp_c: 19 },
  }, NOW);
  assert.equal(hvac.headline, "21.5 °C");
  assert.equal(hvac.data.target, 21.5);
  assert.equal(hvac.zoneText, "thermostat · whole venue");
  assert.equal(hvac.swatch, null, "only a light paints its swatch");
  assert.deepEqual(hvac.rows.slice(0, 3).map((r) => r.value), ["heat", "19 °C", "22 °C · auto"]);
  assert.match(hvac.label, /^hvac in the whole venue: thermostat, set to 21.5 degrees, mode heat, room 19 degrees;/);

  const speaker = tileView({
    id: "spk", kind: "speaker", zone: "bar", driver: "hue", online: false, in_sync: true, pending: null,
    desired: { state: "play", playlist: "jazz", volume: 15 }, reported: { state: "pause", playlist: "jazz", volume: 15 },
  }, NOW);
  assert.equal(speaker.headline, "⏸ paused");
  assert.equal(speaker.data.state, "pause");
  assert.equal(speaker.zoneText, "speaker · bar · Hue");
  assert.deepEqual(speaker.net, { text: "offline", className: "badge net offline" });
  assert.deepEqual(speaker.rows.slice(0, 3).map((r) => r.value), ["jazz", "15 %", "play · jazz · 15 %"]);

  const scent = tileView({
    id: "d", kind: "scent", zone: "lounge", driver: "z2m", online: true, in_sync: true, pending: null,
    desired: { on: false }, reported: { on: true, name: "lavender", intensity: 40 },
  }, NOW);
  assert.equal(scent.headline, "lavender");
  assert.deepEqual(scent.rows.slice(0, 3).map((r) => r.value), ["lavender", "40 %", "off"]);
  assert.match(scent.label, /scent diffuser, lavender at 40 percent;/);
});

test("a kind the page does not know shows its states as JSON", () => {
  const view = tileView({ id: "b", kind: "blinds", zone: "bar", driver: "x", desired: { open: 1 }, reported: null,
    supported: false });
  assert.equal(view.headline, "–");
  assert.equal(view.unsupported, true);
  assert.deepEqual(view.rows.slice(0, 2).map((r) => r.value), ["–", '{"open":1}']);
});
