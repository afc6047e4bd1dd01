// Numbers, times and device states as the dashboard words them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ago, clock, compact, describeLight, describeState, num } from "../../api/static/js/format.js";
import { textOn } from "../../api/static/js/colour.js";

test("num drops a zero fraction and shows a dash for what is not a number", () => {
  assert.equal(num(60), "60");
  assert.equal(num(21.5, 1), "21.5");
  assert.equal(num(22, 1), "22");
  assert.equal(num(0.3125, 3), "0.313");
  assert.equal(num(undefined), "–");
  assert.equal(num("60"), "–");
});

test("ago counts seconds, then minutes, then hours", () => {
  const now = Date.parse("2024-05-01T12:00:00Z");
  assert.equal(ago(null, now), "never");
  assert.equal(ago("2024-05-01T11:59:58Z", now), "just now");
  assert.equal(ago("2024-05-01T11:59:30Z", now), "30 s ago");
  assert.equal(ago("2024-05-01T11:50:00Z", now), "10 min ago");
  assert.equal(ago("2024-05-01T09:00:00Z", now), "3 h ago");
  assert.equal(ago("2024-05-01T12:00:10Z", now), "just now", "a clock a little ahead is not the future");
});

test("clock shows a time, and passes through what it cannot read", () => {
  assert.equal(clock(""), "");
  assert.equal(clock("not a time"), "not a time");
  assert.match(clock("2024-05-01T12:34:56Z"), /\d{1,2}:\d{2}:\d{2}/);
});

test("compact writes key=value pairs, objects as JSON", () => {
  assert.equal(compact(null), "–");
  assert.equal(compact(5), "5");
  assert.equal(compact({ on: true, xy: [0.3, 0.3], n: null }), "on=true xy=[0.3,0.3] n=null");
});

test("describeLight: on, brightness, colour temperature to 10 K, or xy", () => {
  assert.equal(describeLight(null), "unknown");
  assert.equal(describeLight({ on: false, brightness: 80 }), "off");
  assert.equal(describeLight({ on: true, brightness: 80, color_temp_k: 2703 }), "on · 80 % · 2700 K");
  assert.equal(describeLight({ on: true, color_xy: [0.31271, 0.32902] }), "on · xy 0.313, 0.329");
  assert.equal(describeLight({}), "–");
});

test("describeState words each kind, and anything else as key=value", () => {
  assert.equal(describeState("light", { on: true, brightness: 60 }), "on · 60 %");
  assert.equal(describeState("thermostat", { target_c: 21, mode: "heat", local_temp_c: 19.5 }),
    "set 21 °C · heat · room 19.5 °C");
  assert.equal(describeState("speaker", { state: "play", playlist: "jazz", volume: 30 }), "play · jazz · volume 30 %");
  assert.equal(describeState("scent", { on: false, name: "lavender" }), "off");
  assert.equal(describeState("scent", { on: true, name: "lavender", intensity: 40 }), "lavender · 40 %");
  assert.equal(describeState("blinds", { open: 50 }), "open=50");
  assert.equal(describeState("light", null), "–");
});

test("textOn: dark text on a bright swatch, light on a dim one, none for what is not #rrggbb", () => {
  assert.equal(textOn("#ffb35c"), "#14161a");
  assert.equal(textOn("#202040"), "#f5f7fa");
  assert.equal(textOn("FFFFFF"), "#14161a");
  assert.equal(textOn(""), "");
  assert.equal(textOn("red"), "");
  assert.equal(textOn(undefined), "");
});
