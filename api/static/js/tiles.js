// The device tiles: one per device, kept across re-reads (focus and screen readers stay put) and in the API's
// order. What each shows comes from deviceview.js.

import { el, $ } from "./dom.js";
import { tileView } from "./deviceview.js";

const tiles = new Map();

export function renderDevices(devices) {
  const container = $("devices");
  const seen = new Set();
  devices.forEach((device, index) => {
    let tile = tiles.get(device.id);
    if (!tile) {
      tile = makeTile(device);
      tiles.set(device.id, tile);
    }
    if (container.children[index] !== tile.root) container.insertBefore(tile.root, container.children[index] || null);
    updateTile(tile, tileView(device));
    seen.add(device.id);
  });
  for (const [id, tile] of tiles) {
    if (!seen.has(id)) {
      tile.root.remove();
      tiles.delete(id);
    }
  }
}

export function clearTiles() {
  tiles.clear();
  $("devices").replaceChildren();
}

function makeTile(device) {
  const t = {};
  t.name = el("div", { class: "name", text: device.id });
  t.zone = el("div", { class: "zone" });
  t.headline = el("div", { class: "headline" });
  t.swatch = el("div", { class: "swatch" }, el("div", {}, t.name, t.zone), t.headline);
  t.net = el("span", { class: "badge net" });
  t.pending = el("span", { class: "badge pending", text: "sending…", hidden: true });
  t.drift = el("span", { class: "badge drift", text: "differs", hidden: true });
  t.unsupported = el("span", { class: "badge", text: "unsupported", hidden: true });
  t.status = el("div", { class: "status" }, t.unsupported, t.pending, t.drift, t.net);
  t.details = el("div", { class: "details" });
  t.root = el("article", { class: "tile", "data-device-id": device.id, "data-kind": device.kind, tabindex: 0 },
    t.swatch, t.status, t.details);
  return t;
}

function dot(color) {
  if (!color) return null;
  const node = el("span", { class: "dot", "aria-hidden": "true" });
  node.style.background = color; // through the CSSOM: the page's CSP refuses style attributes
  return node;
}

function row({ key, value, dot: color, time }) {
  const shown = time ? el("time", { dateTime: time, text: value }) : value;
  return el("div", { class: "row" }, el("span", { class: "k", text: key }), el("span", { class: "v" }, dot(color), shown));
}

function updateTile(t, view) {
  Object.assign(t.root.dataset, view.data);
  t.zone.textContent = view.zoneText;
  t.net.textContent = view.net.text;
  t.net.className = view.net.className;
  t.pending.hidden = !view.pending;
  t.unsupported.hidden = !view.unsupported;
  t.drift.hidden = !view.drift;
  if (view.swatch) {
    t.swatch.style.backgroundColor = view.swatch.background;
    t.swatch.style.color = view.swatch.color;
  }
  t.headline.textContent = view.headline;
  t.details.replaceChildren(...view.rows.map(row));
  t.root.setAttribute("aria-label", view.label);
}
