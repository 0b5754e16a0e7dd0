// The public API, as any client calls it. The bearer token lives in this module's memory
// only: never in localStorage, sessionStorage or a cookie, so a reload signs out and no
// other page or script of this origin can read it back from storage.

// `epoch` changes with every sign-in and sign-out: an answer to a request of an earlier
// session is dropped (ApiError "signed_out"), never shown to the next one.
const session = { token: null, companyId: null, epoch: 0 };

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function signedIn() {
  return session.token !== null;
}

export function setToken(token) {
  session.token = token;
  session.epoch += 1;
}

export function setCompany(companyId) {
  session.companyId = companyId;
}

export function company() {
  return session.companyId;
}

export function signOut() {
  session.token = null;
  session.companyId = null;
  session.epoch += 1;
}

/** The headers of an authenticated request in the chosen company. */
export function authHeaders() {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (session.companyId) headers["X-Company-Id"] = session.companyId;
  return headers;
}

function url(path, query) {
  const target = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") target.searchParams.set(key, value);
  }
  return target;
}

/** One request; answers the envelope's `data` (and `meta`), throws `ApiError` otherwise. */
export async function call(method, path, { query, body, signal } = {}) {
  const epoch = session.epoch;
  if (!session.token && !path.startsWith("/api/auth/")) throw new ApiError(0, "signed_out", "signed out");
  const headers = { Accept: "application/json", ...authHeaders() };
  const init = { method, headers, signal };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url(path, query), init);
  const text = await response.text();
  if (epoch !== session.epoch) throw new ApiError(0, "signed_out", "signed out");
  let envelope = null;
  try {
    envelope = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(response.status, "bad_response", `the server answered ${response.status}`);
  }
  if (!response.ok || !envelope || envelope.success === false) {
    const error = (envelope && envelope.error) || {};
    throw new ApiError(
      response.status,
      error.code || "http_error",
      error.message || `the server answered ${response.status}`,
    );
  }
  return { data: envelope.data, meta: envelope.meta, status: response.status };
}

export async function get(path, query) {
  return (await call("GET", path, { query })).data;
}

export async function post(path, body, query) {
  return call("POST", path, { body, query });
}

export { url };
