// The API of API.md, and nothing else: a bearer token, a timeout, errors as words.
import { expireSession, token } from "./auth.js";

const TIMEOUT_MS = 15000;
let apiBase = "";

export function configureApi(base) {
  apiBase = (base || "").replace(/\/$/, "");
}

export class ApiError extends Error {
  // status 0: the API did not answer (network down, timeout); else the API's message, code (with its
  // parameters) and field errors.
  constructor(status, message, errors = [], code = "", params = {}) {
    super(message);
    this.status = status;
    this.errors = errors;
    this.code = code;
    this.params = params;
  }

  // The field's errors as the API gives them ({field, message, code, params}).
  forField(field) {
    return this.errors.filter((error) => error.field === field);
  }
}

export async function call(method, path, { body, query, idempotencyKey, accept = "application/json" } = {}) {
  const url = new URL(apiBase + path, window.location.href);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: accept, Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    throw new ApiError(0, "");
  }
  if (response.status === 401) {
    expireSession();
    throw new ApiError(401, "");
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new ApiError(response.status, problem.message || "", problem.errors || [], problem.code || "",
      problem.params || {});
  }
  return accept === "application/json" ? response.json() : response.blob();
}

// One key per form: a retry or a double click of the same form sends the same key (API.md: one request).
export function newIdempotencyKey() {
  return crypto.randomUUID();
}
