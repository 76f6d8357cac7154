// The admin API client. Every request carries the admin token from
// sessionStorage as a bearer token; there are no cookies, so no CSRF.

const TOKEN_KEY = 'replaygate.adminToken';

/** A replay as GET /api/replays lists it (store.Meta). */
export interface ReplayMeta {
  id: string;
  subject: string;
  startedAt?: string;
  endedAt?: string;
  segments: number;
  events?: number;
  urls: string[] | null;
  bytes: number;
  browser?: string;
  os?: string;
  viewport?: { width: number; height: number };
  language?: string;
  errors?: number;
  clicks?: number;
}

/** One consent proof record (policy.Record). */
export interface ConsentRecord {
  time: string;
  subject: string;
  event: string;
  decision: string;
  policyVersion: string;
  noticeHash?: string;
  language?: string;
  region?: string;
  mode?: string;
  gpc?: boolean;
  ip?: string;
  expiresAt?: string;
}

/** An rrweb event as the API returns it; data is narrowed where used. */
export interface RawEvent {
  type: number;
  timestamp: number;
  data: unknown;
}

/** The API refused the token (401): the page asks for it again. */
export class Unauthorized extends Error {
  constructor() {
    super('The admin token was not accepted.');
    this.name = 'Unauthorized';
  }
}

/** Any other failed request, with the server's short error text when it sent one. */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'APIError';
  }
}

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** The stored admin token, or "" when none. */
export function getToken(): string {
  return storage()?.getItem(TOKEN_KEY) ?? '';
}

/** Stores the admin token for this browser tab. */
export function setToken(token: string): void {
  storage()?.setItem(TOKEN_KEY, token);
}

/** Forgets the admin token. */
export function clearToken(): void {
  storage()?.removeItem(TOKEN_KEY);
}

async function errorText(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: unknown };
    if (typeof body.error === 'string' && body.error) return body.error;
  } catch {
    // Not JSON: fall through to the status text.
  }
  return `The admin API answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}.`;
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('Authorization', 'Bearer ' + getToken());
  headers.set('Accept', 'application/json');
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new APIError(0, 'The admin API is not reachable. Is replaygate running?');
  }
  if (res.status === 401) throw new Unauthorized();
  if (!res.ok) throw new APIError(res.status, await errorText(res));
  return res;
}

async function getJSON<T>(path: string): Promise<T> {
  const res = await request(path);
  try {
    return (await res.json()) as T;
  } catch {
    throw new APIError(res.status, `The admin API sent a response that is not JSON (${path}).`);
  }
}

/** Checks a token without storing it: resolves true when the API accepts it. */
export async function checkToken(token: string): Promise<boolean> {
  const res = await fetch('/api/replays', {
    headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
    credentials: 'omit',
    cache: 'no-store',
  }).catch(() => {
    throw new APIError(0, 'The admin API is not reachable. Is replaygate running?');
  });
  if (res.status === 401) return false;
  if (!res.ok) throw new APIError(res.status, await errorText(res));
  return true;
}

/** Lists the stored replays, newest first. */
export async function listReplays(): Promise<ReplayMeta[]> {
  const body = await getJSON<{ replays?: ReplayMeta[] | null }>('/api/replays');
  return body.replays ?? [];
}

/** Returns one replay's metadata. */
export function getReplay(id: string): Promise<ReplayMeta> {
  return getJSON<ReplayMeta>('/api/replays/' + encodeURIComponent(id));
}

/** Returns one replay's rrweb events, in order. */
export async function getEvents(id: string): Promise<RawEvent[]> {
  const body = await getJSON<unknown>('/api/replays/' + encodeURIComponent(id) + '/events');
  if (!Array.isArray(body)) throw new APIError(200, 'The recording is not an event array.');
  return body as RawEvent[];
}

/** Deletes one replay. */
export async function deleteReplay(id: string): Promise<void> {
  await request('/api/replays/' + encodeURIComponent(id), { method: 'DELETE' });
}

/** Lists consent proof records, optionally for one subject. */
export async function listConsents(subject = ''): Promise<ConsentRecord[]> {
  const q = subject ? '?subject=' + encodeURIComponent(subject) : '';
  const body = await getJSON<{ consents?: ConsentRecord[] | null }>('/api/consents' + q);
  return body.consents ?? [];
}

/** Erases every recording of one visitor (the consent records stay: they are the proof). */
export async function eraseSubject(subject: string): Promise<void> {
  await request('/api/subjects/' + encodeURIComponent(subject), { method: 'DELETE' });
}
