// The profile editor's values: ETags, a starting point, the server's refusals.
import assert from "node:assert/strict";
import { test } from "node:test";

import { etagLabel, refusals, refusedText, sameEtag, starterProfile } from "../../api/static/js/profile.js";

test("an ETag from a header (quoted, maybe weak) is the same as the bare one an event carries", () => {
  assert.ok(sameEtag('W/"abc"', "abc"));
  assert.ok(sameEtag('"abc"', "abc"));
  assert.ok(!sameEtag('"abc"', "abd"));
  assert.ok(!sameEtag(null, null), "no ETag is never the same as another");
  assert.equal(etagLabel('W/"abc"'), "ETag abc");
  assert.equal(etagLabel(null), "");
});

test("a community without a profile starts from the house's usual light, under its own name", () => {
  const start = JSON.parse(starterProfile("chess", [{ id: "chess", name: "Chess night" }]));
  assert.deepEqual(start, { community_id: "chess", name: "Chess night",
    lighting: { on: true, brightness: 60, color_temp_k: 3000 } });
  assert.equal(JSON.parse(starterProfile("new", [])).name, "new");
});

test("a 422 becomes field errors, whichever shape it came in", () => {
  assert.deepEqual(refusals([{ path: "lighting.brightness", message: "must be <= 100" }]),
    [{ path: "lighting.brightness", message: "must be <= 100" }]);
  assert.deepEqual(refusals([{ loc: ["body", "lighting", "on"], msg: "not a boolean" }]),
    [{ path: "lighting.on", message: "not a boolean" }]);
  assert.deepEqual(refusals("the profile is too large"), [{ path: "", message: "the profile is too large" }]);
  assert.equal(refusedText(1), "Not saved: 1 error in the profile.");
  assert.equal(refusedText(2), "Not saved: 2 errors in the profile.");
});
