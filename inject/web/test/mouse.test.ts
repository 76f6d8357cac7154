import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecEvent } from '../src/events';
import { MovementReducer } from '../src/mouse';

function move(timestamp: number, pts: Array<[number, number, number]>, source = 1): RecEvent {
  // pts: [x, y, absolute time]
  return { type: 3, timestamp, data: { source, positions: pts.map(([x, y, t]) => ({ x, y, id: 7, timeOffset: t - timestamp })) } };
}

test('a continuous movement becomes its source and target', () => {
  const out: RecEvent[] = [];
  const r = new MovementReducer(500, (e) => out.push(e));
  assert.equal(r.push(move(1500, [[0, 0, 1000], [10, 10, 1100], [20, 20, 1400]])), true);
  assert.equal(r.push(move(2000, [[30, 30, 1600], [99, 88, 1900]])), true);
  assert.equal(out.length, 0, 'nothing emitted while moving');
  r.flush();
  assert.equal(out.length, 1);
  assert.equal(out[0].timestamp, 1900);
  assert.deepEqual(out[0].data.positions, [
    { x: 0, y: 0, id: 7, timeOffset: -900 },
    { x: 99, y: 88, id: 7, timeOffset: 0 },
  ]);
});

test('a pause longer than the gap splits movements', () => {
  const out: RecEvent[] = [];
  const r = new MovementReducer(500, (e) => out.push(e));
  r.push(move(1100, [[0, 0, 1000], [5, 5, 1100]]));
  r.push(move(3100, [[50, 50, 3000], [60, 60, 3100]]));
  r.flush();
  assert.equal(out.length, 2);
  assert.deepEqual(out.map((e) => e.data.positions.length), [2, 2]);
  assert.equal(out[1].data.positions[0].x, 50);
});

test('other events flush the pending movement first and pass through', () => {
  const out: RecEvent[] = [];
  const r = new MovementReducer(500, (e) => out.push(e));
  r.push(move(1100, [[0, 0, 1000], [5, 5, 1100]]));
  const click: RecEvent = { type: 3, timestamp: 1200, data: { source: 2, type: 2, id: 1, x: 5, y: 5 } };
  assert.equal(r.push(click), false);
  assert.equal(out.length, 1, 'movement emitted before the click is handled');
  assert.equal(out[0].data.source, 1);
});

test('touch and mouse movements are not merged; a still pointer gives one position', () => {
  const out: RecEvent[] = [];
  const r = new MovementReducer(500, (e) => out.push(e));
  r.push(move(1000, [[1, 1, 1000]]));
  r.push(move(1050, [[2, 2, 1050]], 6));
  r.flush();
  assert.equal(out.length, 2);
  assert.equal(out[0].data.positions.length, 1);
  assert.equal(out[1].data.source, 6);
  r.reset();
  r.push(move(5000, [[1, 1, 5000]]));
  r.reset();
  r.flush();
  assert.equal(out.length, 2, 'reset drops the pending movement');
});
