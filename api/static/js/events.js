// The venue's events as the page knows them: the text of each type, which ones change what the API shows, the
// log's buffer, and how to find the newest id in the record. No DOM.

import { detailText } from "./api.js";
import { clock, compact, describeState, SOURCES } from "./format.js";

export const LOG_MAX = 50; // lines shown
export const LOG_KEEP = 300; // events kept, so the traffic toggle can show more without a re-read

// Events after which what the API shows may have changed.
export const REFRESHING = new Set([
  "checkin", "checkout", "checkin_expired", "profile_activated", "phase_changed", "ambience_applied",
  "device_state", "device_online", "device_offline", "profile_updated", "command_sent", "manual_override",
  "profile_forced", "device_adapted",
]);
// Device traffic: hidden from the log unless asked for, or it would drown out the people.
export const TRAFFIC = new Set(["command_sent", "device_state"]);

export function describe(e) {
  switch (e.type) {
    case "checkin":
      return `${e.member_id} checked in to ${e.community_id}` + (e.moved_from ? ` (moved from ${e.moved_from})` : "") +
        (typeof e.present === "number" ? ` · ${e.present} here` : "") + (e.source ? ` · via ${e.source}` : "");
    case "checkout":
      return `${e.member_id} checked out of ${e.community_id}` +
        (typeof e.present === "number" ? ` · ${e.present} left` : "") + (e.source ? ` · via ${e.source}` : "");
    case "checkin_expired":
      return `${e.member_id}'s check-in to ${e.community_id} expired`;
    case "profile_activated":
      if (!e.community_id) return "no profile is active";
      return `${e.community_id} is now active (${SOURCES[e.source] || e.source})` +
        (e.previous && e.previous !== e.community_id ? `, was ${e.previous}` : "");
    case "profile_forced":
      return e.community_id ? `${e.community_id} forced by an operator` + (e.source ? ` · via ${e.source}` : "")
        : "forcing ended: who is here decides again";
    case "phase_changed":
      return `phase ${e.phase ?? "base"}` + (e.community_id ? ` for ${e.community_id}` : "") +
        (e.previous ? `, was ${e.previous}` : "");
    case "ambience_applied":
      return `ambience set for ${e.community_id ?? "no one"}` + (e.phase ? ` (${e.phase})` : "") +
        (e.zones ? `: ${Object.keys(e.zones).map((z) => (z === "*" ? "whole venue" : z)).join(", ")}` : "");
    case "command_sent":
      return `sent to ${e.device_id}: ${compact(e.payload)}`;
    case "device_state":
      return `${e.device_id} reports ${describeState(e.kind, e.state)}`;
    case "device_online":
      return `${e.device_id} is online`;
    case "device_offline":
      return `${e.device_id} went offline`;
    case "profile_updated":
      return `${e.community_id} profile saved` + (e.version !== undefined ? ` (version ${e.version}` +
        (e.author ? ` by ${e.author}` : "") + ")" : "");
    case "limit_clamped":
      return `${e.field}${e.zone && e.zone !== "*" ? ` in ${e.zone}` : ""} limited to ${e.applied} ` +
        `(asked ${e.requested}; ${e.limit})`;
    case "manual_override":
      return `${e.device_id ?? "a device"} was changed by hand` +
        (e.changed && Object.keys(e.changed).length ? `: ${compact(e.changed)}` : "") +
        (e.until ? `; left alone until ${clock(e.until)}` : "");
    case "device_adapted":
      return `${e.device_id} cannot take everything asked: ${(e.adapted || []).join("; ")}`;
    case "bridge_error":
      return `Hue bridge ${e.bridge}` + (e.context ? ` (${e.context})` : "") + `: ${e.error}`;
    case "input_rejected":
      return `rejected input on ${e.topic}: ${detailText(e.errors)}`;
    case "retention_held":
      return `the clock says ${e.wall}, the record says at most ${e.pruning_by}: nothing newer is pruned ` +
        "(check the system clock)";
    default: {
      const { id, ts, venue, type, ...rest } = e;
      return `${type} ${compact(rest)}`;
    }
  }
}

export function shownInLog(e, traffic) {
  return traffic || !TRAFFIC.has(e.type);
}

// The last LOG_KEEP events, newest first. History and the stream overlap when it resumes: an id seen already
// (or older) is dropped; an event without a numeric id is always kept.
export class EventBuffer {
  constructor(keep = LOG_KEEP) {
    this.keep = keep;
    this.events = [];
    this.highestId = 0;
  }

  // Adds a batch (oldest first); returns the events that were new, oldest first.
  add(batch) {
    const added = [];
    for (const e of batch) {
      const id = Number(e.id);
      if (Number.isFinite(id)) {
        if (id <= this.highestId) continue;
        this.highestId = id;
      }
      this.events.unshift(e);
      added.push(e);
    }
    if (this.events.length > this.keep) this.events.length = this.keep;
    return added;
  }

  shown(traffic, max = LOG_MAX) {
    return this.events.filter((e) => shownInLog(e, traffic)).slice(0, max);
  }

  clear() {
    this.events.length = 0;
    this.highestId = 0;
  }
}

// The record pages oldest first from a cursor (`since`), so its newest id is found by probing with limit=1:
// doubling, then halving; about 2·log2(id) tiny indexed reads, instead of reading the whole record.
// `after(since)` says whether any event has an id > since; `current()` false gives up (the session ended).
export async function newestEventId(after, current = () => true) {
  if (!(await after(0))) return 0;
  let lo = 0; // some event has an id > lo
  let hi = 1024; // ... and, once found, none has an id > hi
  while (await after(hi)) {
    if (!current()) return 0;
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1 && current()) {
    const mid = Math.floor((lo + hi) / 2);
    if (await after(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}
