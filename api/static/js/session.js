// The admin token: kept in localStorage until sign-out, asked for in the sign-in dialog.

import { checkToken, setToken } from "./api.js";
import { $ } from "./dom.js";

const TOKEN_KEY = "ambience.token";

// The token this browser kept, now the API's; null when there is none.
export function restoreToken() {
  const token = localStorage.getItem(TOKEN_KEY);
  setToken(token);
  return token;
}

// Forgets the token and opens the dialog with this message; the caller has stopped the session first.
export function askForToken(message) {
  setToken(null);
  localStorage.removeItem(TOKEN_KEY);
  $("sign-out").hidden = true;
  $("token-error").textContent = message || "";
  const dialog = $("token-dialog");
  if (!dialog.open) dialog.showModal();
  $("token-input").focus();
}

// The sign-in form: a token the venue accepts is kept, and onSignedIn() starts the session.
export function bindSignIn(onSignedIn) {
  $("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const candidate = $("token-input").value.trim();
    const error = $("token-error");
    if (!candidate) {
      error.textContent = "Enter a token.";
      return;
    }
    error.textContent = "Checking…";
    const problem = await checkToken(candidate);
    if (problem !== null) {
      error.textContent = problem;
      return;
    }
    setToken(candidate);
    localStorage.setItem(TOKEN_KEY, candidate);
    $("token-input").value = "";
    error.textContent = "";
    $("token-dialog").close();
    onSignedIn();
  });
  $("token-dialog").addEventListener("cancel", (e) => e.preventDefault()); // nothing to show without a token
}
