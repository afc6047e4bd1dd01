// Numbers, times and device states as the page words them. No DOM.

export const SOURCES = {
  community: "community profile", forced: "forced by an operator", default: "house default", none: "nothing active",
};

export function num(value, digits = 0) {
  return typeof value === "number" ? value.toFixed(digits).replace(/\.0+$/, "") : "–";
}

export function clock(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (seconds < 5) return "just now";
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

// key=value pairs on one line, for whatever has no wording of its own.
export function compact(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "object") return String(value);
  return Object.entries(value)
    .map(([k, v]) => `${k}=${v !== null && typeof v === "object" ? JSON.stringify(v) : v}`)
    .join(" ");
}

export function describeLight(s) {
  if (!s) return "unknown";
  if (s.on === false) return "off";
  const parts = [s.on ? "on" : null];
  if (typeof s.brightness === "number") parts.push(`${num(s.brightness)} %`);
  // to 10 K: a bulb counts in mireds, so 2700 K comes back as 370 mired = 2703 K, which is not a difference
  if (typeof s.color_temp_k === "number") parts.push(`${Math.round(s.color_temp_k / 10) * 10} K`);
  else if (Array.isArray(s.color_xy)) parts.push(`xy ${s.color_xy.map((v) => num(v, 3)).join(", ")}`);
  return parts.filter(Boolean).join(" · ") || "–";
}

export function describeState(kind, s) {
  if (!s) return "–";
  if (kind === "light") return describeLight(s);
  if (kind === "thermostat") {
    return [typeof s.target_c === "number" ? `set ${num(s.target_c, 1)} °C` : null, s.mode,
      typeof s.local_temp_c === "number" ? `room ${num(s.local_temp_c, 1)} °C` : null].filter(Boolean).join(" · ");
  }
  if (kind === "speaker") {
    return [s.state, s.playlist, typeof s.volume === "number" ? `volume ${num(s.volume)} %` : null].filter(Boolean).join(" · ");
  }
  if (kind === "scent") {
    return s.on === false ? "off" : [s.name, typeof s.intensity === "number" ? `${num(s.intensity)} %` : null].filter(Boolean).join(" · ");
  }
  return compact(s);
}
