// The "Now" cards, who is here, and the check-in form.

import { api, bodyOf, detailText, Unauthorized } from "./api.js";
import { communities } from "./communities.js";
import { el, say, $ } from "./dom.js";
import { checkedInText, nowView, presenceGroups } from "./stateview.js";

let lastState = null;

export function renderState(state) {
  lastState = state;
  const view = nowView(state, communities());
  const venue = $("venue-name");
  venue.textContent = view.venue.text;
  venue.dataset.venue = view.venue.data;
  document.title = view.title;

  const profile = $("active-profile");
  profile.textContent = view.profile.text;
  profile.dataset.profile = view.profile.data;
  profile.title = view.profile.title;
  const source = $("active-source");
  source.dataset.source = view.source.data;
  source.textContent = view.source.text;

  const phase = $("active-phase");
  phase.textContent = view.phase.text;
  phase.dataset.phase = view.phase.data;
  $("active-since").textContent = view.since;

  const total = $("total");
  total.textContent = view.total;
  total.dataset.total = view.total;

  renderPresence(state);
}

// Again with the last state read: the community names changed.
export function rerenderState() {
  if (lastState) renderState(lastState);
}

export function clearPresence() {
  $("presence").replaceChildren();
}

function renderPresence(state) {
  const list = $("presence");
  const items = presenceGroups(state, communities()).map((g) => {
    const chips = g.members.map((m) =>
      el("span", { class: "member", "data-member-id": m },
        el("span", { class: "member-name", text: m }),
        el("button", { type: "button", "aria-label": `Check ${m} out`, title: `Check ${m} out`, text: "×",
          onclick: () => checkOut(m) })));
    return el("li", { "data-community": g.id, "data-count": g.count, "data-active": g.active },
      el("span", { class: "community", text: g.id }),
      g.name ? el("span", { class: "muted", text: g.name }) : null,
      el("span", { class: "count", "aria-label": `${g.count} present`, text: String(g.count) }),
      el("span", { class: g.badge.className, text: g.badge.text }),
      ...chips);
  });
  // Re-rendered whole: keep the keyboard focus on the same member's button if it was on one.
  const focused = document.activeElement && document.activeElement.closest("[data-member-id]");
  const focusedId = focused && list.contains(focused) ? focused.dataset.memberId : null;
  list.replaceChildren(...items);
  $("presence-empty").hidden = items.length > 0;
  if (focusedId !== null) {
    const again = [...list.querySelectorAll("[data-member-id]")].find((n) => n.dataset.memberId === focusedId);
    if (again) again.querySelector("button").focus();
  }
}

// The page does not re-read after its own check-ins: the stream's checkin event does (the browser test relies
// on it to prove the stream drives the page).
async function checkIn(event) {
  event.preventDefault();
  const result = $("checkin-result");
  const member = $("member-id").value.trim();
  const community = $("community-select").value;
  if (!member) {
    say(result, "Enter a member id.", "error");
    $("member-id").focus();
    return;
  }
  if (!community) {
    say(result, "Choose a community.", "error");
    return;
  }
  try {
    const response = await api("/api/v1/checkins", { method: "POST", json: { member_id: member, community_id: community } });
    const body = await bodyOf(response);
    if (response.ok) {
      say(result, checkedInText(body, response.status, member, community), "ok");
      $("member-id").value = "";
      $("member-id").focus();
    } else {
      say(result, `Not checked in: ${detailText(body.detail) || response.status}`, "error");
    }
  } catch (err) {
    if (!(err instanceof Unauthorized)) say(result, "Cannot reach the venue controller.", "error");
  }
}

// From the form (memberId undefined: the id typed in) or from a member's × chip.
async function checkOut(memberId) {
  const result = $("checkin-result");
  const member = (memberId ?? $("member-id").value).trim();
  if (!member) {
    say(result, "Enter the member id to check out.", "error");
    $("member-id").focus();
    return;
  }
  try {
    const response = await api("/api/v1/checkouts", { method: "POST", json: { member_id: member } });
    const body = await bodyOf(response);
    if (response.ok) {
      say(result, `${member} checked out.`, "ok");
      if (memberId === undefined) $("member-id").value = "";
    } else {
      say(result, `Not checked out: ${detailText(body.detail) || response.status}`, "error");
    }
  } catch (err) {
    if (!(err instanceof Unauthorized)) say(result, "Cannot reach the venue controller.", "error");
  }
}

export function bindCheckins() {
  $("checkin-form").addEventListener("submit", checkIn);
  $("checkout-button").addEventListener("click", () => checkOut());
}
