// Console and network metadata capture as rrweb custom events. Arguments are
// stringified and truncated; network entries carry method, scrubbed URL,
// status, duration and sizes — never headers or bodies.

import { scrubURL, scrubURLsInText } from './url';

const LEVELS = ['log', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];
const MAX_ARGS = 10;
const MAX_ARG_CHARS = 500;
const MAX_TRACE_CHARS = 2000;

/** Stringifies one console argument, truncated. */
export function stringifyArg(v: unknown, allow: readonly string[]): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (v instanceof Error) s = v.name + ': ' + v.message;
  else if (v === undefined || typeof v === 'function' || typeof v === 'symbol') s = String(v);
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = Object.prototype.toString.call(v);
    }
  }
  if (s.length > MAX_ARG_CHARS) s = s.slice(0, MAX_ARG_CHARS) + '…';
  return scrubURLsInText(s, allow);
}

/** Emits custom events; returns an uninstaller that restores the originals. */
export type Emit = (tag: string, payload: unknown) => void;

/** Wraps console.log/info/warn/error. */
export function captureConsole(emit: Emit, allow: readonly string[]): () => void {
  const c = console as unknown as Record<Level, (...a: unknown[]) => void>;
  const originals = {} as Record<Level, (...a: unknown[]) => void>;
  const wrappers = {} as Record<Level, (...a: unknown[]) => void>;
  let inside = false;
  let active = true;
  for (const level of LEVELS) {
    const orig = c[level];
    originals[level] = orig;
    c[level] = wrappers[level] = function (this: unknown, ...args: unknown[]) {
      if (active && !inside) {
        inside = true;
        try {
          const payload: { level: Level; args: string[]; trace?: string } = {
            level,
            args: args.slice(0, MAX_ARGS).map((a) => stringifyArg(a, allow)),
          };
          if (level === 'error') {
            const err = args.find((a): a is Error => a instanceof Error);
            const stack = err && err.stack ? err.stack : '';
            if (stack) payload.trace = scrubURLsInText(stack.slice(0, MAX_TRACE_CHARS), allow);
          }
          emit('replaygate/console', payload);
        } catch {
          // Never let capture break the page's logging.
        } finally {
          inside = false;
        }
      }
      return orig.apply(this, args);
    };
  }
  return () => {
    active = false;
    for (const level of LEVELS) if (c[level] === wrappers[level]) c[level] = originals[level];
  };
}

/** A network entry as the viewer expects it. */
export interface NetworkEntry {
  kind: 'fetch' | 'xhr';
  method: string;
  url: string;
  status: number;
  durationMs: number;
  requestBytes?: number;
  responseBytes?: number;
}

/** Size of a request body when it is cheap to know. */
export function bodySize(body: unknown): number | undefined {
  if (body === null || body === undefined) return undefined;
  if (typeof body === 'string') return new TextEncoder().encode(body).byteLength;
  if (body instanceof Blob) return body.size;
  if (body instanceof ArrayBuffer) return body.byteLength;
  if (ArrayBuffer.isView(body)) return body.byteLength;
  if (body instanceof URLSearchParams) return body.toString().length;
  return undefined;
}

function headerSize(v: string | null): number | undefined {
  const n = v === null ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Wraps fetch and XMLHttpRequest; requests whose URL isOwn() says are ours are not captured. */
export function captureNetwork(
  emit: Emit,
  allow: readonly string[],
  isOwn: (url: string) => boolean,
): () => void {
  const w = window;
  const origFetch = w.fetch;
  let active = true;
  const entry = (e: NetworkEntry) => {
    if (active) emit('replaygate/network', e);
  };
  const wrapped = function (this: unknown, input: RequestInfo | URL, init?: RequestInit) {
    const p = origFetch.call(w, input, init);
    let url: string;
    let method: string;
    try {
      url = input instanceof Request ? input.url : String(input);
      method = (init && init.method) || (input instanceof Request ? input.method : 'GET');
    } catch {
      return p;
    }
    if (isOwn(url)) return p;
    const start = performance.now();
    const base = {
      kind: 'fetch' as const,
      method: method.toUpperCase(),
      url: scrubURL(url, allow, location.href),
      requestBytes: bodySize(init && init.body),
    };
    p.then(
      (res) => entry({ ...base, status: res.status, durationMs: Math.round(performance.now() - start), responseBytes: headerSize(res.headers.get('content-length')) }),
      () => entry({ ...base, status: 0, durationMs: Math.round(performance.now() - start) }),
    );
    return p;
  } as typeof fetch;
  w.fetch = wrapped;

  const proto = XMLHttpRequest.prototype;
  const origOpen = proto.open;
  const origSend = proto.send;
  const meta = new WeakMap<XMLHttpRequest, { method: string; url: string }>();
  proto.open = function (this: XMLHttpRequest, method: string, url: string | URL, ...rest: unknown[]) {
    meta.set(this, { method: String(method).toUpperCase(), url: String(url) });
    return (origOpen as (...a: unknown[]) => void).call(this, method, url, ...rest);
  } as typeof proto.open;
  proto.send = function (this: XMLHttpRequest, body?: Document | XMLHttpRequestBodyInit | null) {
    const m = meta.get(this);
    if (m && !isOwn(m.url)) {
      const start = performance.now();
      const requestBytes = bodySize(body);
      this.addEventListener('loadend', () => {
        entry({
          kind: 'xhr',
          method: m.method,
          url: scrubURL(m.url, allow, location.href),
          status: this.status,
          durationMs: Math.round(performance.now() - start),
          requestBytes,
          responseBytes: headerSize(this.getResponseHeader('content-length')),
        });
      });
    }
    return origSend.call(this, body);
  };
  const wrappedOpen = proto.open;
  const wrappedSend = proto.send;
  // Restore only what is still ours: a wrapper the site added later keeps working.
  return () => {
    active = false;
    if (w.fetch === wrapped) w.fetch = origFetch;
    if (proto.open === wrappedOpen) proto.open = origOpen;
    if (proto.send === wrappedSend) proto.send = origSend;
  };
}
