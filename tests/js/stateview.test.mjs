// The "Now" cards, who is here, and the check-in form's answer.
import assert from "node:assert/strict";
import { test } from "node:test";

import { checkedInText, communityLabel, communityName, nowView, presenceGroups } from "../../api/static/js/stateview.js";

const COMMUNITIES = [
  { id: "book-club", name: "Reading hour", has_profile: true },
  { id: "chess", name: "chess", has_profile: false },
];

test("community names: shown when they say more than the id", () => {
  assert.equal(communityName(COMMUNITIES, "book-club"), "Reading hour");
  assert.equal(communityName(COMMUNITIES, "chess"), null);
  assert.equal(communityName(COMMUNITIES, "nobody"), null);
  assert.equal(communityLabel(COMMUNITIES[0]), "Reading hour (book-club)");
  assert.equal(communityLabel(COMMUNITIES[1], { profile: true }), "chess — no profile yet");
  assert.equal(communityLabel(COMMUNITIES[0], { profile: true }), "Reading hour (book-club)");
});

test("the Now cards of an active community", () => {
  const view = nowView({
    venue: "the-bar", active_profile: "book-club", active: ["book-club", "chess"], source: "community", phase: null,
    active_since: { "book-club": "2024-05-01T12:00:00Z" }, total: 3,
  }, COMMUNITIES);
  assert.deepEqual(view.venue, { text: "the-bar", data: "the-bar" });
  assert.equal(view.title, "ambience · the-bar");
  assert.deepEqual(view.profile, { text: "book-club", data: "book-club", title: "Reading hour" });
  assert.deepEqual(view.source, { data: "community", text: "Reading hour · community profile · with chess" });
  assert.deepEqual(view.phase, { text: "base", data: "" });
  assert.match(view.since, /^active since \d/);
  assert.equal(view.total, "3");
});

test("the Now cards with nothing active", () => {
  const view = nowView({ source: "none" }, []);
  assert.deepEqual(view.venue, { text: "venue", data: "" });
  assert.deepEqual(view.profile, { text: "none", data: "", title: "" });
  assert.equal(view.source.text, "nothing active");
  assert.deepEqual(view.phase, { text: "–", data: "" });
  assert.equal(view.since, "");
  assert.equal(view.total, "0");
});

test("who is here: one group per community with someone in it, with its standing", () => {
  const groups = presenceGroups({
    present: { chess: ["zoe"], "book-club": ["ana", "bo"] },
    headcount: { "book-club": 2, chess: 1, house: 0, anon: 4 },
    eligible: ["book-club", "anon"],
    active: ["book-club"],
  }, COMMUNITIES);
  assert.deepEqual(groups.map((g) => [g.id, g.count, g.members, g.badge.text, g.active]), [
    ["anon", 4, [], "eligible", false],
    ["book-club", 2, ["ana", "bo"], "active", true],
    ["chess", 1, ["zoe"], "below quorum", false],
  ]);
  assert.equal(groups[1].name, "Reading hour");
  assert.equal(groups[1].badge.className, "badge active");
  assert.deepEqual(presenceGroups({}, COMMUNITIES), []);
});

test("the check-in form's answer", () => {
  assert.equal(checkedInText({ status: "created", member_id: "ana", community_id: "chess" }, 201, "x", "y"),
    "ana checked in (chess).");
  assert.equal(checkedInText({ status: "already_present" }, 200, "ana", "chess"), "ana was already checked in (chess).");
  assert.equal(checkedInText({ status: "moved" }, 200, "ana", "chess"), "ana moved (chess).");
  assert.equal(checkedInText({}, 201, "ana", "chess"), "ana checked in (chess).");
  assert.equal(checkedInText({}, 200, "ana", "chess"), "ana already here (chess).");
});
