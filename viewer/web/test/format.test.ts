import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatClock, formatDuration, parseTime, shortURL } from '../src/format';

test('formatClock', () => {
  const cases: [number, string][] = [
    [0, '0:00'],
    [999, '0:00'],
    [61_000, '1:01'],
    [3_600_000, '1:00:00'],
    [3_723_000, '1:02:03'],
    [-5, '0:00'],
  ];
  for (const [ms, want] of cases) assert.equal(formatClock(ms), want, String(ms));
});

test('formatDuration', () => {
  const cases: [number, string][] = [
    [6_400, '6 s'],
    [59_400, '59 s'],
    [65_000, '1 min 05 s'],
    [3_720_000, '1 h 02 min'],
    [-1, '—'],
    [NaN, '—'],
  ];
  for (const [ms, want] of cases) assert.equal(formatDuration(ms), want, String(ms));
});

test('formatBytes', () => {
  const cases: [number, string][] = [
    [0, '0 B'],
    [1023, '1023 B'],
    [2867, '2.8 KiB'],
    [10 * 1024, '10 KiB'],
    [5 * 1024 * 1024, '5.0 MiB'],
    [-1, '—'],
  ];
  for (const [n, want] of cases) assert.equal(formatBytes(n), want, String(n));
});

test('parseTime and shortURL', () => {
  assert.equal(parseTime('2025-11-28T13:20:00Z')?.getTime(), Date.UTC(2025, 10, 28, 13, 20));
  assert.equal(parseTime(''), null);
  assert.equal(parseTime('yesterday'), null);
  assert.equal(shortURL('http://shop.test/products/1?ref=x#top'), '/products/1?ref=x#top');
  assert.equal(shortURL('not a url'), 'not a url');
});
