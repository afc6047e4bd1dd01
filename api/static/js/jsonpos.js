// Where things are in a JSON text, so the editor can put a server's field error next to its line. Lines count
// from 0. No DOM.

// The line of a JSON syntax error. V8 says "at position N" (with "(line L column C)" in newer versions) for some
// errors, but for an unexpected token only quotes the text around it: then the scanner below finds the line.
export function jsonErrorLine(message, text) {
  const lineCol = /line (\d+) column/.exec(message);
  if (lineCol) return Number(lineCol[1]) - 1;
  const pos = /position (\d+)/.exec(message);
  if (pos) return text.slice(0, Number(pos[1])).split("\n").length - 1;
  return scan(text).errorLine;
}

// Where each value of a JSON text is: "a.b.0.c" -> the line of its key (or of the element, in an array).
// A small scanner rather than JSON.parse, since the parser forgets positions; on bad JSON it keeps what it found.
export function locate(text) {
  return scan(text).index;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERAL = /true|false|null/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

// {index: as locate, errorLine: the line where the text stops being JSON, or null when it is JSON}.
function scan(text) {
  const index = new Map();
  let i = 0;
  let line = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) {
      if (text[i] === "\n") line += 1;
      i += 1;
    }
  };
  const str = () => {
    let out = "";
    i += 1;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") {
        ESCAPE.lastIndex = i;
        const escape = ESCAPE.exec(text);
        if (!escape) throw new Error("bad escape");
        out += escape[0];
        i += escape[0].length;
      } else {
        if (text[i] < " ") throw new Error("control character in a string"); // a raw line break, say
        out += text[i];
        i += 1;
      }
    }
    if (i >= text.length) throw new Error("unterminated string");
    i += 1;
    try {
      return JSON.parse(`"${out}"`);
    } catch {
      return out;
    }
  };
  const value = (path, at) => {
    ws();
    if (path.length) index.set(path.join("."), at);
    if (text[i] === "{") {
      i += 1;
      ws();
      if (text[i] === "}") {
        i += 1;
        return;
      }
      for (;;) { // each turn reads a key and a value, or throws: no text makes it spin
        ws();
        if (text[i] !== '"') throw new Error("key expected");
        const keyLine = line;
        const key = str();
        ws();
        if (text[i] !== ":") throw new Error(": expected");
        i += 1;
        value([...path, key], keyLine);
        ws();
        if (text[i] === ",") {
          i += 1;
          continue;
        }
        if (text[i] === "}") {
          i += 1;
          return;
        }
        throw new Error(", or } expected");
      }
    } else if (text[i] === "[") {
      i += 1;
      ws();
      if (text[i] === "]") {
        i += 1;
        return;
      }
      for (let n = 0; ; n += 1) {
        ws();
        value([...path, String(n)], line);
        ws();
        if (text[i] === ",") {
          i += 1;
          continue;
        }
        if (text[i] === "]") {
          i += 1;
          return;
        }
        throw new Error(", or ] expected");
      }
    } else if (text[i] === '"') {
      str();
    } else {
      const scalar = [NUMBER, LITERAL].map((re) => {
        re.lastIndex = i;
        return re.exec(text);
      }).find(Boolean);
      if (!scalar) throw new Error("value expected");
      i += scalar[0].length;
    }
  };
  try {
    value([], 0);
    ws();
    if (i < text.length) throw new Error("end expected");
  } catch {
    return { index, errorLine: line }; // partial index: whatever was found before the error
  }
  return { index, errorLine: null };
}

// The line of an error's path ("lighting.brightness", "zones[0].id", FastAPI's "body.x"), or null.
export function lineOfPath(path, index, text) {
  if (!path) return null;
  const parts = String(path).replace(/\[(\d+)\]/g, ".$1").split(".").filter((p) => p !== "" && p !== "body");
  for (let n = parts.length; n > 0; n -= 1) {
    const found = index.get(parts.slice(0, n).join("."));
    if (found !== undefined) return found; // the field itself, or the object a missing field belongs in
  }
  // Not in the document at all: the first line naming the path's last key.
  const last = parts[parts.length - 1];
  const at = text.split("\n").findIndex((l) => l.includes(`"${last}"`));
  return at >= 0 ? at : null;
}

// Every line that one of these errors ({path, message}) points at.
export function errorLines(text, errors) {
  const index = locate(text);
  const lines = new Set();
  for (const e of errors) {
    const line = lineOfPath(e.path, index, text);
    if (line !== null) lines.add(line);
  }
  return lines;
}

// [start, end) character offsets of a line, for selecting it.
export function lineSpan(text, line) {
  const lines = text.split("\n");
  let start = 0;
  for (let i = 0; i < line; i += 1) start += lines[i].length + 1;
  return [start, start + lines[line].length];
}
