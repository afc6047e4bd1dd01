// The venue's communities: the list both forms choose from, re-read with the state.

import { api, Unauthorized } from "./api.js";
import { el, $ } from "./dom.js";
import { communityLabel } from "./stateview.js";

let list = [];

export function communities() {
  return list;
}

// Re-reads the list; true when it changed (names shown elsewhere may have too).
export async function loadCommunities() {
  try {
    const response = await api("/api/v1/communities");
    if (!response.ok) return false;
    const fresh = await response.json();
    if (JSON.stringify(fresh) === JSON.stringify(list)) return false;
    list = fresh;
    fillSelect($("community-select"), fresh, (c) => communityLabel(c));
    fillSelect($("profile-community"), fresh, (c) => communityLabel(c, { profile: true }));
    return true;
  } catch (err) {
    if (!(err instanceof Unauthorized)) console.warn("communities failed", err);
    return false;
  }
}

function fillSelect(select, options, label) {
  const chosen = select.value; // a refill must not change what the user picked
  select.replaceChildren(...options.map((c) => el("option", { value: c.id, text: label(c) })));
  if (options.some((c) => c.id === chosen)) select.value = chosen;
}
