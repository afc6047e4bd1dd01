// The profile editor's values: ETags, the starting point for a community without a profile, the server's
// refusals as a list of field errors. No DOM.

import { detailText, fieldError } from "./api.js";

// Headers carry ETags quoted (maybe weak, W/"..."); events carry them bare.
export function bareEtag(tag) {
  return String(tag || "").replace(/^W\//, "").replace(/^"|"$/g, "");
}

export function sameEtag(a, b) {
  return Boolean(a) && Boolean(b) && bareEtag(a) === bareEtag(b);
}

export function etagLabel(etag) {
  return etag ? `ETag ${etag.replace(/^W\//, "").replace(/"/g, "")}` : "";
}

// What the editor offers for a community that has no profile yet; saving it creates one.
export function starterProfile(community, communities) {
  const c = communities.find((x) => x.id === community);
  return JSON.stringify({
    community_id: community,
    name: (c && c.name) || community,
    lighting: { on: true, brightness: 60, color_temp_k: 3000 },
  }, null, 2);
}

// A 422's detail as [{path, message}]: ours is a list already; anything else is one error with no path.
export function refusals(detail) {
  return Array.isArray(detail) ? detail.map(fieldError) : [{ path: "", message: detailText(detail) }];
}

export function refusedText(count) {
  return `Not saved: ${count} error${count === 1 ? "" : "s"} in the profile.`;
}
