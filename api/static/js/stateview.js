// What the "Now" cards and "Who is here" say, from GET /api/v1/state and the community list: plain values that
// presence.js puts on the page. No DOM.

import { clock, SOURCES } from "./format.js";

// A community's display name when it has one besides its id, else null.
export function communityName(communities, id) {
  const c = communities.find((x) => x.id === id);
  return c && c.name && c.name !== id ? c.name : null;
}

export function communityLabel(c, { profile = false } = {}) {
  const label = c.name && c.name !== c.id ? `${c.name} (${c.id})` : c.id;
  return profile && !c.has_profile ? `${label} — no profile yet` : label;
}

export function nowView(state, communities) {
  const venue = state.venue || "venue";
  const active = state.active_profile ?? null;
  const name = active ? communityName(communities, active) : null;
  const others = (state.active || []).filter((c) => c !== active);
  const since = active && state.active_since ? state.active_since[active] : null;
  return {
    venue: { text: venue, data: state.venue || "" },
    title: `ambience · ${venue}`,
    profile: { text: active ?? "none", data: active ?? "", title: name || "" },
    source: {
      data: state.source || "",
      text: [name, SOURCES[state.source] || state.source, others.length ? `with ${others.join(", ")}` : null]
        .filter(Boolean).join(" · "),
    },
    phase: { text: state.phase ?? (active ? "base" : "–"), data: state.phase ?? "" },
    since: since ? `active since ${clock(since)}` : "",
    total: String(state.total ?? 0),
  };
}

// One entry per community with someone present, sorted by id: [{id, name, count, members, active, badge}].
export function presenceGroups(state, communities) {
  const present = state.present || {};
  const headcount = state.headcount || {};
  const ids = [...new Set([...Object.keys(headcount), ...Object.keys(present)])].sort();
  const eligible = new Set(state.eligible || []);
  const active = new Set(state.active || []);
  const groups = [];
  for (const id of ids) {
    const members = present[id] || [];
    const count = headcount[id] ?? members.length;
    if (!count && !members.length) continue;
    const badge = active.has(id) ? { text: "active", className: "badge active" }
      : { text: eligible.has(id) ? "eligible" : "below quorum", className: "badge" };
    groups.push({ id, name: communityName(communities, id), count, members, active: active.has(id), badge });
  }
  return groups;
}

const CHECKIN_STATUS = {
  created: "checked in",
  checked_in: "checked in",
  new: "checked in",
  already_present: "was already checked in",
  moved: "moved",
};

// The line a successful POST /api/v1/checkins leaves under the form.
export function checkedInText(body, httpStatus, member, community) {
  const status = CHECKIN_STATUS[body.status] || body.status || (httpStatus === 201 ? "checked in" : "already here");
  return `${body.member_id ?? member} ${status} (${body.community_id ?? community}).`;
}
