// Reads a recording's events into what the player shows beside the replay:
// timeline markers (page changes, clicks, console errors), the console and
// network lists, and the environment. Pure: no DOM, no rrweb import.

import type { RawEvent } from './api';
import { shortURL } from './format';

/** rrweb event and source numbers this module reads. */
export const EventType = { FullSnapshot: 2, IncrementalSnapshot: 3, Meta: 4, Custom: 5 } as const;
const SOURCE_MOUSE_INTERACTION = 2;
const MOUSE_CLICK = 2;

/** Custom event tags the replaygate recorder emits. */
export const Tag = { Console: 'replaygate/console', Network: 'replaygate/network', Env: 'replaygate/env' } as const;

export type MarkerKind = 'page' | 'click' | 'error';

/** A point on the timeline; offset is milliseconds from the start of the recording. */
export interface Marker {
  kind: MarkerKind;
  offset: number;
  label: string;
}

export interface ConsoleEntry {
  offset: number;
  level: string;
  args: string[];
  trace?: string;
}

export interface NetworkEntry {
  offset: number;
  kind: string;
  method: string;
  url: string;
  status: number;
  durationMs?: number;
  requestBytes?: number;
  responseBytes?: number;
}

export interface Environment {
  browser?: string;
  os?: string;
  viewport?: { width: number; height: number };
  language?: string;
  url?: string;
}

export interface Analysis {
  /** Timestamp (ms since the epoch) of the first event; offsets count from it. */
  start: number;
  /** Length of the recording in milliseconds. */
  duration: number;
  markers: Marker[];
  console: ConsoleEntry[];
  network: NetworkEntry[];
  env: Environment | null;
  /** True when the recording has a full snapshot, without which nothing can be shown. */
  playable: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

const MAX_LABEL = 120;
function clip(s: string): string {
  return s.length > MAX_LABEL ? s.slice(0, MAX_LABEL - 1) + '…' : s;
}

/** Analyzes events (in any order); start defaults to the earliest timestamp. */
export function analyze(events: readonly RawEvent[], start?: number): Analysis {
  let first = Infinity;
  let last = -Infinity;
  for (const ev of events) {
    if (!isObj(ev) || typeof ev.timestamp !== 'number' || !Number.isFinite(ev.timestamp)) continue;
    first = Math.min(first, ev.timestamp);
    last = Math.max(last, ev.timestamp);
  }
  const t0 = start ?? (Number.isFinite(first) ? first : 0);
  const out: Analysis = {
    start: t0,
    duration: Number.isFinite(last) ? Math.max(0, last - t0) : 0,
    markers: [],
    console: [],
    network: [],
    env: null,
    playable: false,
  };
  for (const ev of events) {
    if (!isObj(ev) || typeof ev.timestamp !== 'number' || !Number.isFinite(ev.timestamp)) continue;
    const offset = Math.max(0, ev.timestamp - t0);
    const data = ev.data;
    switch (ev.type) {
      case EventType.FullSnapshot:
        out.playable = true;
        break;
      case EventType.Meta: {
        const href = isObj(data) ? str(data.href) : undefined;
        if (href) out.markers.push({ kind: 'page', offset, label: clip(shortURL(href)) });
        break;
      }
      case EventType.IncrementalSnapshot:
        if (isObj(data) && data.source === SOURCE_MOUSE_INTERACTION && data.type === MOUSE_CLICK) {
          out.markers.push({ kind: 'click', offset, label: 'Click' });
        }
        break;
      case EventType.Custom:
        if (isObj(data)) custom(out, offset, str(data.tag), data.payload);
        break;
    }
  }
  const order = (a: { offset: number }, b: { offset: number }) => a.offset - b.offset;
  out.markers.sort(order);
  out.console.sort(order);
  out.network.sort(order);
  return out;
}

function custom(out: Analysis, offset: number, tag: string | undefined, payload: unknown): void {
  if (!isObj(payload)) return;
  switch (tag) {
    case Tag.Console: {
      const level = str(payload.level) ?? 'log';
      const args = Array.isArray(payload.args) ? payload.args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a) ?? '')) : [];
      const entry: ConsoleEntry = { offset, level, args };
      const trace = str(payload.trace);
      if (trace) entry.trace = trace;
      out.console.push(entry);
      if (level === 'error') out.markers.push({ kind: 'error', offset, label: clip('Console error: ' + (args.join(' ') || '(no message)')) });
      break;
    }
    case Tag.Network: {
      const url = str(payload.url);
      if (!url) return;
      const entry: NetworkEntry = {
        offset,
        kind: str(payload.kind) ?? 'fetch',
        method: str(payload.method) ?? 'GET',
        url,
        status: num(payload.status) ?? 0,
      };
      const d = num(payload.durationMs);
      if (d !== undefined) entry.durationMs = d;
      const rq = num(payload.requestBytes);
      if (rq !== undefined) entry.requestBytes = rq;
      const rs = num(payload.responseBytes);
      if (rs !== undefined) entry.responseBytes = rs;
      out.network.push(entry);
      break;
    }
    case Tag.Env: {
      if (out.env) return; // the first one describes the recording
      const env: Environment = {};
      const b = str(payload.browser);
      if (b) env.browser = b;
      const os = str(payload.os);
      if (os) env.os = os;
      const lang = str(payload.language);
      if (lang) env.language = lang;
      const url = str(payload.url);
      if (url) env.url = url;
      const vp = payload.viewport;
      if (isObj(vp)) {
        const width = num(vp.width);
        const height = num(vp.height);
        if (width !== undefined && height !== undefined) env.viewport = { width, height };
      }
      out.env = env;
      break;
    }
  }
}

/** Position of an offset on the timeline, as a percentage clamped to 0–100. */
export function percent(offset: number, duration: number): number {
  if (duration <= 0) return 0;
  return Math.min(100, Math.max(0, (offset / duration) * 100));
}

/** The index of the last entry at or before offset (entries sorted by offset), or -1. */
export function lastAtOrBefore(entries: readonly { offset: number }[], offset: number): number {
  let lo = 0;
  let hi = entries.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((entries[mid]?.offset ?? Infinity) <= offset) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
