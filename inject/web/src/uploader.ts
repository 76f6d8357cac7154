// Uploads batches of sanitized events to {prefix}/ingest. One request in
// flight at a time so segments arrive in order; gzip via CompressionStream
// where the browser has it; keepalive for bodies that fit the browser's
// 64 KiB keepalive budget so uploads survive navigation.

/** Sizes and timings of batching. */
export interface UploaderOptions {
  endpoint: string;
  replayId: string;
  intervalMs: number;
  maxBytes: number;
  /** Hands out the next segment number (persisted by the caller). */
  nextSeq(): number;
  /** Called once when the server says consent is no longer valid (403). */
  onForbidden(): void;
  fetch: typeof fetch;
}

interface Batch {
  seq: number;
  events: string[];
  body?: Uint8Array;
  gzip?: boolean;
  attempts: number;
}

const KEEPALIVE_BUDGET = 60 * 1024;
const MAX_ATTEMPTS = 6;
const MAX_QUEUED = 50;

/** Backoff before retry number attempt (1-based): 1 s, 2 s, 4 s … capped at 30 s, with jitter. */
export function backoffMs(attempt: number, rand: () => number): number {
  const base = Math.min(30000, 1000 * 2 ** (attempt - 1));
  return Math.round(base * (0.75 + rand() * 0.5));
}

/** Splits serialized events into groups whose JSON array stays under maxBytes. */
export function chunkEvents(events: string[], maxBytes: number): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let size = 2;
  for (const e of events) {
    if (cur.length > 0 && size + e.length + 1 > maxBytes) {
      out.push(cur);
      cur = [];
      size = 2;
    }
    cur.push(e);
    size += e.length + 1;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

const encoder = new TextEncoder();

/** Batches and uploads events; discard() drops everything not yet acknowledged. */
export class Uploader {
  private pending: string[] = [];
  private pendingBytes = 2;
  private queue: Batch[] = [];
  private busy = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private abort: AbortController | null = null;

  constructor(private readonly o: UploaderOptions) {
    this.timer = setInterval(() => this.flush(), o.intervalMs);
  }

  /** Queues one event (serialized now, so later DOM changes cannot alter it). */
  add(ev: unknown): void {
    if (this.stopped) return;
    const s = JSON.stringify(ev);
    this.pending.push(s);
    this.pendingBytes += s.length + 1;
    if (this.pendingBytes >= this.o.maxBytes) this.flush();
  }

  /** Turns pending events into a batch and starts uploading. */
  flush(): void {
    if (this.stopped) return;
    this.cut();
    void this.pump();
  }

  /**
   * Last chance on pagehide: sends what fits the keepalive budget
   * synchronously, uncompressed where not compressed yet.
   */
  flushOnHide(): void {
    if (this.stopped) return;
    this.cut();
    let budget = KEEPALIVE_BUDGET;
    const sendable = this.busy ? this.queue.slice(1) : this.queue;
    for (const b of sendable) {
      const body = b.body ?? encoder.encode('[' + b.events.join(',') + ']');
      const gzip = b.body ? b.gzip === true : false;
      if (body.byteLength > budget) break;
      budget -= body.byteLength;
      this.send(b.seq, body, gzip, true).catch(() => 0);
    }
    this.queue = this.busy ? this.queue.slice(0, 1) : [];
  }

  /** Stops at once: drops queued and pending data and aborts the request in flight. */
  discard(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    this.pending = [];
    this.queue = [];
    if (this.abort) this.abort.abort();
  }

  private cut(): void {
    if (this.pending.length === 0) return;
    for (const events of chunkEvents(this.pending, this.o.maxBytes)) {
      this.queue.push({ seq: this.o.nextSeq(), events, attempts: 0 });
    }
    this.pending = [];
    this.pendingBytes = 2;
    if (this.queue.length > MAX_QUEUED) this.queue.splice(0, this.queue.length - MAX_QUEUED);
  }

  private async pump(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        const b = this.queue[0];
        if (!b.body) {
          const raw = encoder.encode('[' + b.events.join(',') + ']');
          const gz = await gzip(raw);
          b.body = gz ?? raw;
          b.gzip = gz !== null;
        }
        if (this.stopped) return;
        let status = 0;
        try {
          this.abort = new AbortController();
          const keepalive = b.body.byteLength <= KEEPALIVE_BUDGET / 2;
          status = await this.send(b.seq, b.body, b.gzip === true, keepalive, this.abort.signal);
        } catch {
          status = 0;
        }
        if (this.stopped) return;
        if (status >= 200 && status < 300) {
          this.queue.shift();
        } else if (status === 403) {
          this.o.onForbidden();
          return;
        } else if (status === 413) {
          this.queue.shift();
          if (b.events.length > 1) {
            const half = Math.ceil(b.events.length / 2);
            this.queue.unshift(
              { seq: this.o.nextSeq(), events: b.events.slice(0, half), attempts: 0 },
              { seq: this.o.nextSeq(), events: b.events.slice(half), attempts: 0 },
            );
          }
        } else if (status === 0 || status === 429 || status >= 500) {
          b.attempts++;
          if (b.attempts >= MAX_ATTEMPTS) {
            this.queue.shift();
            continue;
          }
          this.retryTimer = setTimeout(() => void this.pump(), backoffMs(b.attempts, Math.random));
          return;
        } else {
          // Other 4xx: the server will never take this batch.
          this.queue.shift();
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private async send(seq: number, body: Uint8Array, gz: boolean, keepalive: boolean, signal?: AbortSignal): Promise<number> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (gz) headers['Content-Encoding'] = 'gzip';
    const url = this.o.endpoint + '?replay=' + this.o.replayId + '&seq=' + seq;
    const res = await this.o.fetch.call(globalThis, url, {
      method: 'POST',
      headers,
      body: new Blob([body as BlobPart]),
      credentials: 'same-origin',
      keepalive,
      signal,
    });
    return res.status;
  }
}

/** gzip-compresses data with CompressionStream, or returns null where unavailable. */
export async function gzip(data: Uint8Array): Promise<Uint8Array | null> {
  if (typeof CompressionStream !== 'function') return null;
  try {
    const stream = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return null;
  }
}
