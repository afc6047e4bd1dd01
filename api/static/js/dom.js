// The page's small DOM helpers. Everything is built with createElement and textContent, never from HTML
// strings, and styles go through the CSSOM: the page's CSP refuses inline scripts and style attributes.

export const $ = (id) => document.getElementById(id);

// el("span", {class: "badge", text: "on", "data-x": 1, onclick: f}, ...children): attributes for data-*, aria-*
// and a few names, properties for the rest; null, undefined and false leave a name out.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || ["role", "title", "type", "tabindex"].includes(k)) {
      node.setAttribute(k, v === true && !k.startsWith("data-") ? "" : String(v));
    } else node[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// A status line's text, and its kind (ok, error or "") for the stylesheet.
export function say(node, text, kind) {
  node.textContent = text;
  node.dataset.kind = kind || "";
}
