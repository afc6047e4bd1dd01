// Colour helpers for a light's swatch. No DOM.

// The text colour that stays readable on a swatch of this colour: dark on a bright lamp, light on a dim one.
// "" (the stylesheet's own) for anything that is not #rrggbb.
export function textOn(hex) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
  if (!m) return "";
  const [r, g, b] = m.slice(1).map((h) => parseInt(h, 16) / 255);
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return luminance > 0.55 ? "#14161a" : "#f5f7fa";
}
