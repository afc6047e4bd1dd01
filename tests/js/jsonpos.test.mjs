// Where a server's field error goes in the editor's JSON text (lines count from 0).
import assert from "node:assert/strict";
import { test } from "node:test";

import { errorLines, jsonErrorLine, lineOfPath, lineSpan, locate } from "../../api/static/js/jsonpos.js";

const PROFILE = JSON.stringify({
  community_id: "book-club",
  lighting: { on: true, brightness: 140, zones: { bar: { brightness: 20 } } },
  playlist: ["a", { id: "b" }],
}, null, 2);
const lineOf = (needle) => PROFILE.split("\n").findIndex((l) => l.includes(needle));

test("locate finds the line of every key, nested and in arrays", () => {
  const index = locate(PROFILE);
  assert.equal(index.get("community_id"), 1);
  assert.equal(index.get("lighting"), lineOf('"lighting"'));
  assert.equal(index.get("lighting.brightness"), lineOf('"brightness": 140'));
  assert.equal(index.get("lighting.zones.bar.brightness"), lineOf('"brightness": 20'));
  assert.equal(index.get("playlist.0"), lineOf('"a"'));
  assert.equal(index.get("playlist.1.id"), lineOf('"id": "b"'));
});

test("locate reads escaped keys and strings with colons and braces inside", () => {
  const text = '{\n  "a\\"b": "x: {y}",\n  "c": [\n    1,\n    "]"\n  ],\n  "d": {}\n}';
  const index = locate(text);
  assert.equal(index.get('a"b'), 1);
  assert.equal(index.get("c.1"), 4);
  assert.equal(index.get("d"), 6);
});

test("locate keeps what it found before bad JSON, and never throws", () => {
  const index = locate('{\n  "a": 1,\n  "b": 2,\n  oops\n}');
  assert.equal(index.get("a"), 1);
  assert.equal(index.get("b"), 2);
  assert.equal(locate("").size, 0);
  assert.equal(locate("{{{{").size, 0);
});

test("lineOfPath: the field, else the object a missing field belongs in, else a line naming its key", () => {
  const index = locate(PROFILE);
  assert.equal(lineOfPath("lighting.brightness", index, PROFILE), lineOf('"brightness": 140'));
  assert.equal(lineOfPath("body.lighting.brightness", index, PROFILE), lineOf('"brightness": 140'), "FastAPI's loc");
  assert.equal(lineOfPath("playlist[1].id", index, PROFILE), lineOf('"id": "b"'));
  assert.equal(lineOfPath("lighting.color_temp_k", index, PROFILE), lineOf('"lighting"'), "missing: its object");
  assert.equal(lineOfPath("nowhere.zones", index, PROFILE), lineOf('"zones"'), "not in it: a line naming the key");
  assert.equal(lineOfPath("nowhere.nothing", index, PROFILE), null);
  assert.equal(lineOfPath("", index, PROFILE), null);
});

test("errorLines gathers every error's line", () => {
  const lines = errorLines(PROFILE, [
    { path: "lighting.brightness", message: "must be <= 100" },
    { path: "community_id", message: "unknown" },
    { path: "", message: "no path" },
  ]);
  assert.deepEqual([...lines].sort((a, b) => a - b), [1, lineOf('"brightness": 140')]);
});

const parseError = (text) => {
  try {
    JSON.parse(text);
  } catch (err) {
    return err.message;
  }
  throw new Error(`${text} is JSON`);
};

test("jsonErrorLine finds the line of whatever this engine's JSON.parse refuses", () => {
  // V8 gives a position for some of these and only a quote of the text for others (an unexpected token).
  const cases = [
    ['{\n  "a": 1,\n  "b": oops\n}', 2, "an unexpected token"],
    ['{\n  "a": 1,\n  "b": 2,\n}', 3, "a trailing comma"],
    ['{\n  "a": 1\n  "b": 2\n}', 2, "a missing comma"],
    ['{\n  a: 1\n}', 1, "a key without quotes"],
    ['{\n  "a": "one\ntwo"\n}', 1, "a line break inside a string"],
    ['{\n  "a": "\\x"\n}', 1, "a bad escape"],
    ['{\n  "a": 01\n}', 1, "a leading zero"],
    ['{\n  "a": [1, 2\n}', 2, "an unclosed array"],
    ['{\n  "a": 1\n}\n}', 3, "text after the end"],
    ['{\n  "a": {\n    "b": 1\n', 3, "an unclosed object"],
  ];
  for (const [text, line, what] of cases) {
    const message = parseError(text);
    assert.equal(jsonErrorLine(message, text), line, `${what}: ${message}`);
  }
});

test("jsonErrorLine reads a position or a line from the message when it has one", () => {
  const text = "{\n\n  x\n}";
  assert.equal(jsonErrorLine("Unexpected token x in JSON at position 5", text), 2);
  assert.equal(jsonErrorLine("Expected ',' after property value in JSON at line 3 column 3", text), 2);
  assert.equal(jsonErrorLine("Unexpected end of JSON input", text), 2, "neither: the scanner's line");
  assert.equal(jsonErrorLine("whatever", '{"a": 1}'), null, "valid JSON has no error line");
});

test("the scanner agrees with JSON.parse on valid JSON", () => {
  for (const text of ["0", "-1.5e+3", "true", "null", '"x"', "[]", "{}", ' [ {"a" : [ null , false ] } ] ',
    '{"\\u00e9\\n": "\\"\\\\\\/"}']) {
    JSON.parse(text);
    assert.equal(jsonErrorLine("", text), null, text);
  }
});

test("lineSpan gives a line's offsets, for selecting it", () => {
  const text = "ab\ncde\n\nf";
  assert.deepEqual(lineSpan(text, 0), [0, 2]);
  assert.deepEqual(lineSpan(text, 1), [3, 6]);
  assert.deepEqual(lineSpan(text, 2), [7, 7]);
  assert.equal(text.slice(...lineSpan(text, 3)), "f");
});
