// What a device's tile shows, from one entry of GET /api/v1/devices: plain values that tiles.js puts on the page.
// No DOM.

import { textOn } from "./colour.js";
import { ago, describeLight, num } from "./format.js";

const PLAY = { play: "▶ playing", pause: "⏸ paused", stop: "■ stopped" };

// Whether the device does what is desired is the server's call (`in_sync`, by devices/compare.py's tolerances):
// the page used to compare with tolerances of its own, which disagreed. "unknown" while either side is, and for
// a server that does not say.
export function syncOf(d) {
  if (d.desired == null || d.reported == null || typeof d.in_sync !== "boolean") return "unknown";
  return d.in_sync ? "true" : "false";
}

// {data: the tile's data-* attributes, zoneText, net: {text, className}, pending, unsupported, drift, headline,
//  swatch: {background, color} or null (lights only), rows: [{key, value, dot?, time?}], label}
export function tileView(d, now = Date.now()) {
  const r = d.reported;
  const w = d.desired;
  const online = d.online === true ? "true" : d.online === false ? "false" : "unknown";
  const sync = syncOf(d);
  const data = { kind: d.kind, zone: d.zone, driver: d.driver, online, pending: d.pending ? "true" : "false", sync };
  const rows = [];
  let headline;
  let swatch = null;
  let summary;
  if (d.kind === "light") {
    const lit = Boolean(r && r.on);
    const color = lit && r.color_hex ? r.color_hex : "";
    data.color = color;
    data.light = r ? (lit ? "on" : "off") : "unknown";
    data.brightness = lit && typeof r.brightness === "number" ? String(r.brightness) : "";
    swatch = { background: color, color: textOn(color) };
    headline = !r ? "–" : lit ? `${num(r.brightness ?? 100)} %` : "off";
    rows.push({ key: "reported", dot: color, value: describeLight(r) });
    rows.push({ key: "desired", dot: w && w.on ? w.color_hex : "", value: w ? describeLight(w) : "nothing" });
    summary = `light, reported ${describeLight(r)}, desired ${w ? describeLight(w) : "nothing"}`;
  } else if (d.kind === "thermostat") {
    const s = r || {};
    headline = typeof s.target_c === "number" ? `${num(s.target_c, 1)} °C` : "–";
    data.target = s.target_c ?? "";
    rows.push({ key: "mode", value: s.mode ?? "–" });
    rows.push({ key: "room", value: typeof s.local_temp_c === "number" ? `${num(s.local_temp_c, 1)} °C` : "–" });
    rows.push({ key: "desired", value: w ? `${num(w.target_c, 1)} °C · ${w.mode ?? "–"}` : "nothing" });
    summary = `thermostat, set to ${num(s.target_c, 1)} degrees, mode ${s.mode ?? "unknown"}, room ${num(s.local_temp_c, 1)} degrees`;
  } else if (d.kind === "speaker") {
    const s = r || {};
    headline = PLAY[s.state] || s.state || "–";
    data.state = s.state ?? "";
    rows.push({ key: "playlist", value: s.playlist ?? "–" });
    rows.push({ key: "volume", value: typeof s.volume === "number" ? `${num(s.volume)} %` : "–" });
    rows.push({ key: "desired", value: w ? [w.state, w.playlist, typeof w.volume === "number" ? `${num(w.volume)} %` : null]
      .filter(Boolean).join(" · ") : "nothing" });
    summary = `speaker, ${s.state ?? "unknown"}, playlist ${s.playlist ?? "none"}, volume ${num(s.volume)} percent`;
  } else if (d.kind === "scent") {
    const s = r || {};
    const on = s.on !== false && r !== null && r !== undefined;
    headline = !r ? "–" : on ? (s.name ?? "on") : "off";
    rows.push({ key: "scent", value: s.name ?? "–" });
    rows.push({ key: "intensity", value: typeof s.intensity === "number" ? `${num(s.intensity)} %` : "–" });
    rows.push({ key: "desired", value: w ? (w.on === false ? "off" : [w.name, typeof w.intensity === "number" ? `${num(w.intensity)} %` : null]
      .filter(Boolean).join(" · ")) : "nothing" });
    summary = `scent diffuser, ${on ? `${s.name ?? "on"} at ${num(s.intensity)} percent` : "off"}`;
  } else {
    headline = r ? "" : "–";
    rows.push({ key: "reported", value: r ? JSON.stringify(r) : "–" });
    rows.push({ key: "desired", value: w ? JSON.stringify(w) : "nothing" });
    summary = d.kind;
  }
  rows.push(d.last_seen ? { key: "last seen", value: ago(d.last_seen, now), time: d.last_seen }
    : { key: "last seen", value: "never" });
  const net = online === "true" ? "online" : online === "false" ? "offline" : "";
  return {
    data,
    zoneText: `${d.kind} · ${d.zone === "*" ? "whole venue" : d.zone}${d.driver === "hue" ? " · Hue" : ""}`,
    net: { text: net || "no news", className: `badge net ${net}` },
    pending: Boolean(d.pending),
    unsupported: d.supported === false,
    drift: sync === "false" && !d.pending, // "sending…" says it already while a command is on its way
    headline,
    swatch,
    rows,
    label: `${d.id} in ${d.zone === "*" ? "the whole venue" : d.zone}: ${summary}; ` +
      `${online === "true" ? "online" : online === "false" ? "offline" : "status unknown"}`,
  };
}
