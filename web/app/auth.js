// Who is signed in. Deployed: the user pool's hosted UI, authorization code with PKCE. Locally: the runner's
// sign-in form (unsigned tokens, local only). The ID token is the bearer token of the API's authorizer.
const TOKEN = "refunds.token";
const VERIFIER = "refunds.pkce";
const STATE = "refunds.state";
let config = { auth: "local" };

export function configureAuth(loaded) {
  config = loaded;
}

export function token() {
  return sessionStorage.getItem(TOKEN);
}

function claims() {
  const value = token();
  if (!value) return null;
  try {
    const payload = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0)));
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export function caller() {
  const found = claims();
  if (!found) return null;
  if (found.exp && found.exp * 1000 < Date.now()) return null;
  const listed = found["cognito:groups"] || [];
  const groups = Array.isArray(listed) ? listed : String(listed).split(",");
  const supervisor = groups.includes("refund-supervisors");
  return {
    username: found["cognito:username"] || found.username || found.sub,
    reviewer: supervisor || groups.includes("refund-reviewers"),
    supervisor,
    policyOwner: groups.includes("refund-policy-owners"),
    finance: groups.includes("refund-finance"),
  };
}

export function usesLocalSignIn() {
  return config.auth === "local";
}

export async function signInLocally(username, groups) {
  const response = await fetch("/_local/sign-in", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, ...groups }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) return answer;
  sessionStorage.setItem(TOKEN, answer.token);
  return null;
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function signInWithHostedUi() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(VERIFIER, verifier);
  sessionStorage.setItem(STATE, state);
  const url = new URL("/oauth2/authorize", config.domain);
  url.search = new URLSearchParams({
    response_type: "code", client_id: config.clientId, redirect_uri: config.redirectUri,
    scope: "openid email profile", state, code_challenge_method: "S256", code_challenge: base64url(digest),
  }).toString();
  window.location.assign(url.toString());
}

// Back from the hosted UI with ?code=...&state=...: trade the code for tokens, then drop it from the address.
export async function completeHostedSignIn() {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  if (config.auth !== "cognito" || !code) return;
  const expected = sessionStorage.getItem(STATE);
  const verifier = sessionStorage.getItem(VERIFIER);
  sessionStorage.removeItem(STATE);
  sessionStorage.removeItem(VERIFIER);
  window.history.replaceState(null, "", window.location.pathname + window.location.hash);
  if (!verifier || params.get("state") !== expected) return;
  const response = await fetch(new URL("/oauth2/token", config.domain), {
    method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", client_id: config.clientId, code, redirect_uri: config.redirectUri,
      code_verifier: verifier,
    }),
  });
  if (response.ok) sessionStorage.setItem(TOKEN, (await response.json()).id_token);
}

// The token expired or was refused: back to the sign-in, saying why (no redirect: nothing typed is lost
// before the person sees the message).
export function expireSession() {
  sessionStorage.removeItem(TOKEN);
  window.dispatchEvent(new CustomEvent("refunds:signed-out", { detail: { expired: true } }));
}

export function signOut() {
  sessionStorage.removeItem(TOKEN);
  if (config.auth === "cognito") {
    const url = new URL("/logout", config.domain);
    url.search = new URLSearchParams({ client_id: config.clientId, logout_uri: config.redirectUri }).toString();
    window.location.assign(url.toString());
  } else {
    window.location.hash = "#/";
    window.dispatchEvent(new Event("refunds:signed-out"));
  }
}
