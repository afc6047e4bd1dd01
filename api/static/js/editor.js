// The profile editor: load a community's profile as JSON, save it with If-Match, show the server's field errors
// beside their lines, and keep the user's text when someone else saved first (412).

import { api, bodyOf, detailText, Unauthorized } from "./api.js";
import { communities } from "./communities.js";
import { el, say, $ } from "./dom.js";
import { errorLines, jsonErrorLine, lineOfPath, lineSpan, locate } from "./jsonpos.js";
import { etagLabel, refusals, refusedText, sameEtag, starterProfile } from "./profile.js";

const LINE_PX = 22; // must match .editor line-height in dashboard.css

// forcedLines: the lines a JSON syntax error marks (it has no path); null once the text is edited.
const editor = { community: null, etag: null, loadedText: "", errors: [], forcedLines: null, saving: false };

const profileUrl = (community) => `/api/v1/communities/${encodeURIComponent(community)}/profile`;

async function loadProfile() {
  const community = $("profile-community").value;
  const status = $("profile-status");
  if (!community) {
    say(status, "Choose a community.", "error");
    return;
  }
  say(status, `Loading ${community}…`, "");
  try {
    const response = await api(profileUrl(community));
    const body = await bodyOf(response);
    let text;
    if (response.ok) {
      text = JSON.stringify(body, null, 2);
      setEtag(response.headers.get("ETag"));
      say(status, `Loaded ${community}'s profile.`, "ok");
    } else if (response.status === 404) {
      text = starterProfile(community, communities());
      setEtag(null);
      say(status, `${community} has no profile yet: this is a starting point; saving creates it.`, "");
    } else {
      say(status, `Could not load: ${detailText(body.detail) || response.status}`, "error");
      return;
    }
    editor.community = community;
    editor.loadedText = text;
    const area = $("profile-text");
    area.value = text;
    area.scrollTop = 0;
    area.disabled = false;
    $("profile-save").disabled = false;
    $("profile-conflict").hidden = true;
    setErrors([]);
  } catch (err) {
    if (!(err instanceof Unauthorized)) say(status, "Cannot reach the venue controller.", "error");
  }
}

function setEtag(etag) {
  editor.etag = etag;
  const node = $("profile-etag");
  node.dataset.etag = etag || "";
  node.textContent = etagLabel(etag);
}

async function saveProfile(event) {
  event.preventDefault();
  const status = $("profile-status");
  const area = $("profile-text");
  const community = editor.community;
  if (!community) return;
  let parsed;
  try {
    parsed = JSON.parse(area.value);
  } catch (err) {
    const line = jsonErrorLine(String(err.message), area.value);
    setErrors([{ path: line === null ? "(JSON)" : `line ${line + 1}`, message: `not valid JSON: ${err.message}` }],
      line === null ? [] : [line]);
    say(status, "Not saved: the text is not valid JSON.", "error");
    return;
  }
  say(status, "Saving…", "");
  $("profile-save").disabled = true;
  editor.saving = true; // our own profile_updated event may arrive before the answer
  try {
    const headers = {};
    if (editor.etag) headers["If-Match"] = editor.etag;
    const response = await api(profileUrl(community), { method: "PUT", headers, json: parsed });
    const body = await bodyOf(response);
    if (response.ok) {
      setEtag(response.headers.get("ETag") || (body && body.etag) || null);
      editor.loadedText = area.value;
      setErrors([]);
      $("profile-conflict").hidden = true;
      say(status, `Saved ${community}'s profile.`, "ok");
    } else if (response.status === 422) {
      const list = refusals(body.detail);
      setErrors(list);
      say(status, refusedText(list.length), "error");
    } else if (response.status === 412) {
      $("profile-mine-text").textContent = area.value;
      $("profile-conflict").hidden = false;
      say(status, "Not saved: someone else changed this profile since you loaded it.", "error");
      $("profile-reload").focus();
    } else if (response.status === 403) {
      say(status, `Not saved: this token may not edit ${community}'s profile.`, "error");
    } else {
      say(status, `Not saved: ${detailText(body.detail) || response.status}`, "error");
    }
  } catch (err) {
    if (!(err instanceof Unauthorized)) say(status, "Cannot reach the venue controller.", "error");
  } finally {
    editor.saving = false;
    $("profile-save").disabled = false;
  }
}

// A profile_updated event from the stream: follow it if nothing of ours would be lost, else warn.
export function profileChangedElsewhere(event) {
  if (editor.saving || event.community_id !== editor.community || !event.etag) return;
  if (sameEtag(event.etag, editor.etag)) return;
  if ($("profile-text").value === editor.loadedText) {
    loadProfile();
  } else {
    say($("profile-status"), `${event.community_id}'s profile was just changed elsewhere` +
      (event.author ? ` by ${event.author}` : "") + "; saving now will be refused until you reload.", "error");
  }
}

function setErrors(list, forcedLines) {
  editor.errors = list;
  editor.forcedLines = forcedLines || null;
  $("profile-errors").replaceChildren(...list.map((e) => {
    const label = e.path ? `${e.path}: ${e.message}` : e.message;
    const li = el("li", { "data-path": e.path, "data-message": e.message, title: label });
    if (e.path) {
      li.append(el("button", { type: "button", text: e.path, onclick: () => goToError(e) }), `: ${e.message}`);
    } else li.textContent = e.message;
    return li;
  }));
  const area = $("profile-text");
  area.setAttribute("aria-invalid", list.length ? "true" : "false");
  paintEditor();
  const first = Math.min(...markedLines());
  if (Number.isFinite(first)) {
    area.scrollTop = Math.max(0, first * LINE_PX - area.clientHeight / 3); // show the first marked line
    syncScroll();
  }
}

function markedLines() {
  if (editor.forcedLines) return new Set(editor.forcedLines);
  return errorLines($("profile-text").value, editor.errors);
}

// The gutter's line numbers and the backdrop behind the textarea, with the lines an error points at marked.
export function paintEditor() {
  const lines = $("profile-text").value.split("\n");
  const bad = markedLines();
  $("profile-gutter").replaceChildren(...lines.map((_, i) => el("div", { class: bad.has(i) ? "bad" : "", text: String(i + 1) })));
  $("profile-backdrop").replaceChildren(...lines.map((line, i) =>
    el("div", { class: bad.has(i) ? "bad" : "", "data-line": i + 1, text: line || " " })));
  syncScroll();
}

function syncScroll() {
  const area = $("profile-text");
  $("profile-backdrop").scrollTop = area.scrollTop;
  $("profile-backdrop").scrollLeft = area.scrollLeft;
  $("profile-gutter").scrollTop = area.scrollTop;
}

function goToError(e) {
  const area = $("profile-text");
  const line = lineOfPath(e.path, locate(area.value), area.value);
  area.focus();
  if (line === null) return;
  area.setSelectionRange(...lineSpan(area.value, line));
  area.scrollTop = Math.max(0, line * LINE_PX - area.clientHeight / 3);
  syncScroll();
}

export function bindEditor() {
  $("profile-load").addEventListener("click", loadProfile);
  $("profile-reload").addEventListener("click", loadProfile);
  $("profile-form").addEventListener("submit", saveProfile);
  const area = $("profile-text");
  area.addEventListener("input", () => {
    editor.forcedLines = null;
    paintEditor();
  });
  area.addEventListener("scroll", syncScroll);
}
