import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rangeKeyTarget } from '../src/controls';

test('rangeKeyTarget: keyboard steps of the position slider', () => {
  const cases: [string, number, number | null][] = [
    ['ArrowRight', 1000, 6000],
    ['ArrowUp', 1000, 6000],
    ['ArrowLeft', 1000, 0],
    ['ArrowDown', 9000, 4000],
    ['PageUp', 1000, 20000],
    ['PageDown', 50000, 20000],
    ['Home', 7000, 0],
    ['End', 0, 20000],
    ['ArrowRight', 19000, 20000],
    ['a', 1000, null],
    ['Tab', 1000, null],
  ];
  for (const [key, now, want] of cases) assert.equal(rangeKeyTarget(key, now, 20000), want, `${key} at ${now}`);
});
