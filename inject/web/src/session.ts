// Replay sessions: one 32-hex id per tab (sessionStorage), continued across
// page loads until idle too long or older than the maximum duration. Segment
// numbers continue with the session.

/** The persisted state of one replay session. */
export interface SessionState {
  id: string;
  seq: number;
  start: number;
  last: number;
  sampled: boolean;
}

/** Limits that end a session. */
export interface SessionLimits {
  idleTimeoutMs: number;
  maxDurationMs: number;
  sampleRate: number;
}

const ID = /^[0-9a-f]{32}$/;

/** A fresh random 32-hex replay id. */
export function newReplayId(random: (buf: Uint8Array) => void): string {
  const b = new Uint8Array(16);
  random(b);
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s;
}

/** Parses stored state; anything malformed counts as no session. */
export function parseSession(raw: string | null): SessionState | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<SessionState>;
    if (typeof v.id !== 'string' || !ID.test(v.id)) return null;
    if (typeof v.seq !== 'number' || typeof v.start !== 'number' || typeof v.last !== 'number') return null;
    return { id: v.id, seq: v.seq, start: v.start, last: v.last, sampled: v.sampled === true };
  } catch {
    return null;
  }
}

/** True when s can no longer be continued at time now. */
export function expired(s: SessionState, now: number, lim: SessionLimits): boolean {
  return now - s.last > lim.idleTimeoutMs || now - s.start > lim.maxDurationMs;
}

/** Continues the stored session if still valid, otherwise starts a new one (sampled by rate). */
export function resumeOrStart(
  stored: SessionState | null,
  now: number,
  lim: SessionLimits,
  rand: () => number,
  random: (buf: Uint8Array) => void,
): SessionState {
  if (stored && !expired(stored, now, lim)) return { ...stored, last: now };
  return { id: newReplayId(random), seq: 0, start: now, last: now, sampled: rand() < lim.sampleRate };
}
