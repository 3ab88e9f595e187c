// The one way the dashboard talks to the server: the public JSON API, same origin, the session
// cookie, and the CSRF token on every unsafe method.

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

let current = null;
let onSessionEnded = () => {};

/** An error in the API's shape (`{"error": {"code", "message"}}`), or a network failure. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The signed-in session (`GET /api/v1/me`), or null. */
export function session() {
  return current;
}

export function setSession(value) {
  current = value;
}

/** Called when the server answers 401 to a signed-in request. */
export function whenSessionEnds(callback) {
  onSessionEnded = callback;
}

const ROLES = ['viewer', 'technician', 'admin', 'owner'];

/** Whether the signed-in user holds `role` or one above it. */
export function can(role) {
  return current !== null && ROLES.indexOf(current.role) >= ROLES.indexOf(role);
}

/**
 * Sends a request; resolves with the parsed JSON (null for an empty answer) or rejects with an
 * ApiError whose message can be shown as is. `expect401` keeps a 401 from ending the session
 * (sign-in's wrong password).
 */
export async function request(method, path, body, { expect401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (UNSAFE.has(method) && current) headers['X-CSRF-Token'] = current.csrf_token;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'Could not reach Sikurd. Check the connection and try again.');
  }
  let data = null;
  if ((response.headers.get('content-type') || '').startsWith('application/json')) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (response.ok) return data;
  const error = data && data.error ? data.error : null;
  let message = error ? error.message : `The server answered ${response.status} ${response.statusText}.`;
  if (response.status === 429) {
    const wait = response.headers.get('retry-after');
    if (wait) message += ` Try again in ${wait} s.`;
  }
  const failure = new ApiError(response.status, error ? error.code : `http_${response.status}`, message);
  if (response.status === 401 && !expect401) {
    current = null;
    failure.sessionEnded = true;
    onSessionEnded(failure);
  }
  throw failure;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body === undefined ? {} : body);
export const del = (path) => request('DELETE', path);

/** Every page of a list answered as `{items, next_cursor}`, up to `maxPages`. */
export async function getAll(path, maxPages = 25) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const sep = path.includes('?') ? '&' : '?';
    const data = await get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    items.push(...data.items);
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/** Builds a query string from the non-empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') q.set(key, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}
