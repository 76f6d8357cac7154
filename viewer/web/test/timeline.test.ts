import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { RawEvent } from '../src/api';
import { analyze, lastAtOrBefore, percent } from '../src/timeline';

// The recording the Go browser test replays (viewer/testdata/recording.json).
const fixture = JSON.parse(readFileSync(new URL('../../testdata/recording.json', import.meta.url), 'utf8')) as RawEvent[];

test('analyze: markers, console, network and environment of the fixture', () => {
  const a = analyze(fixture);
  assert.equal(a.playable, true);
  assert.equal(a.start, 1764336000000);
  assert.equal(a.duration, 6400);
  assert.deepEqual(
    a.markers.map((m) => [m.kind, m.offset]),
    [
      ['page', 0],
      ['click', 1520],
      ['error', 2100],
      ['click', 2700],
      ['page', 4200],
      ['click', 5600],
      ['error', 5700],
    ],
  );
  assert.equal(a.markers[0]?.label, '/products');
  assert.match(a.markers[2]?.label ?? '', /^Console error: TypeError: Cannot read properties/);
  assert.deepEqual(
    a.console.map((c) => c.level),
    ['error', 'warn', 'log', 'error'],
  );
  assert.match(a.console[0]?.trace ?? '', /updateTotal/);
  assert.deepEqual(a.network[1], {
    offset: 2150,
    kind: 'xhr',
    method: 'GET',
    url: 'http://shop.test/api/recommendations?page=2',
    status: 503,
    durationMs: 1210,
    responseBytes: 58,
  });
  assert.deepEqual(a.env, {
    browser: 'Chrome 131',
    os: 'Linux',
    language: 'en-US',
    url: 'http://shop.test/products',
    viewport: { width: 1024, height: 640 },
  });
});

test('analyze: tolerates junk and reports unplayable recordings', () => {
  const junk = [
    { type: 5, timestamp: 10, data: { tag: 'replaygate/console', payload: 'not an object' } },
    { type: 5, timestamp: 20, data: { tag: 'replaygate/network', payload: { method: 'GET' } } }, // no url: skipped
    { type: 5, timestamp: 30, data: { tag: 'replaygate/console', payload: { level: 'error', args: [1, { a: 2 }] } } },
    { type: 3, timestamp: 40, data: null },
    { type: 4, timestamp: 'x', data: { href: 'http://a/' } },
    null,
  ] as unknown as RawEvent[];
  const a = analyze(junk);
  assert.equal(a.playable, false);
  assert.equal(a.duration, 30);
  assert.equal(a.network.length, 0);
  assert.deepEqual(a.console, [{ offset: 20, level: 'error', args: ['1', '{"a":2}'] }]);
  assert.deepEqual(a.markers.map((m) => m.kind), ['error']);
  assert.deepEqual(analyze([]).markers, []);
});

test('analyze: only the first environment event counts; offsets from a given start', () => {
  const evs: RawEvent[] = [
    { type: 5, timestamp: 1000, data: { tag: 'replaygate/env', payload: { browser: 'Firefox 128' } } },
    { type: 5, timestamp: 2000, data: { tag: 'replaygate/env', payload: { browser: 'Other' } } },
  ];
  const a = analyze(evs, 500);
  assert.equal(a.env?.browser, 'Firefox 128');
  assert.equal(a.duration, 1500);
});

test('percent and lastAtOrBefore', () => {
  assert.equal(percent(50, 200), 25);
  assert.equal(percent(-1, 200), 0);
  assert.equal(percent(500, 200), 100);
  assert.equal(percent(5, 0), 0);
  const e = [{ offset: 0 }, { offset: 10 }, { offset: 10 }, { offset: 30 }];
  const cases: [number, number][] = [
    [-1, -1],
    [0, 0],
    [9, 0],
    [10, 2],
    [29, 2],
    [30, 3],
    [99, 3],
  ];
  for (const [at, want] of cases) assert.equal(lastAtOrBefore(e, at), want, `at ${at}`);
  assert.equal(lastAtOrBefore([], 5), -1);
});
