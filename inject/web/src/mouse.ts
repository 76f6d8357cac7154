// Mouse movement reduction: rrweb samples the pointer path; we keep only where
// each movement started and where it ended. A movement ends after gapMs without
// motion, or when any other event arrives (so event order is preserved).

import { EventType, Position, RecEvent, Source } from './events';

const MOVE_SOURCES: ReadonlySet<number> = new Set([Source.MouseMove, Source.TouchMove, Source.Drag]);

interface Point {
  x: number;
  y: number;
  id: number;
  t: number;
}

/** True for rrweb pointer-path events (mouse, touch, drag moves). */
export function isMoveEvent(ev: RecEvent): boolean {
  return ev.type === EventType.IncrementalSnapshot && MOVE_SOURCES.has(ev.data.source) && Array.isArray(ev.data.positions);
}

/** Collapses pointer paths into source → target pairs. */
export class MovementReducer {
  private source: number | null = null;
  private from: Point | null = null;
  private to: Point | null = null;

  constructor(
    private readonly gapMs: number,
    private readonly out: (ev: RecEvent) => void,
  ) {}

  /** Feeds an event; returns true when it was a move event and was absorbed. */
  push(ev: RecEvent): boolean {
    if (!isMoveEvent(ev)) {
      this.flush();
      return false;
    }
    const positions = ev.data.positions as Position[];
    if (positions.length === 0) return true;
    const pts = positions.map((p) => ({ x: p.x, y: p.y, id: p.id, t: ev.timestamp + p.timeOffset }));
    const first = pts[0];
    const last = pts[pts.length - 1];
    if (this.to && this.source === ev.data.source && first.t - this.to.t <= this.gapMs) {
      this.to = last;
      return true;
    }
    this.flush();
    this.source = ev.data.source;
    this.from = first;
    this.to = last;
    return true;
  }

  /** Emits the pending movement, if any. */
  flush(): void {
    const { from, to, source } = this;
    if (!from || !to || source === null) return;
    this.from = this.to = this.source = null;
    const positions: Position[] = [{ x: from.x, y: from.y, id: from.id, timeOffset: from.t - to.t }];
    if (from.x !== to.x || from.y !== to.y || from.id !== to.id) {
      positions.push({ x: to.x, y: to.y, id: to.id, timeOffset: 0 });
    }
    this.out({ type: EventType.IncrementalSnapshot, timestamp: to.t, data: { source, positions } });
  }

  /** Drops the pending movement without emitting it. */
  reset(): void {
    this.from = this.to = this.source = null;
  }
}
