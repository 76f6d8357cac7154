import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stringifyArg } from '../src/capture';
import { companionDecision, pickLanguage, primaryTag, readCookie } from '../src/lang';
import { expired, newReplayId, parseSession, resumeOrStart } from '../src/session';
import { browserName, osName } from '../src/ua';
import { backoffMs, chunkEvents } from '../src/uploader';

test('browser and OS names', () => {
  const cases: Array<[string, string, string]> = [
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36', 'Chrome 156', 'Linux'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36', 'Chrome 131', 'Linux'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0', 'Edge 120', 'Windows'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15', 'Safari 17', 'macOS'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1', 'Safari 17', 'iOS'],
    ['Mozilla/5.0 (Android 14; Mobile; rv:140.0) Gecko/140.0 Firefox/140.0', 'Firefox 140', 'Android'],
    ['curl/8', 'Other', 'Other'],
  ];
  for (const [ua, b, os] of cases) {
    assert.equal(browserName(ua), b, ua);
    assert.equal(osName(ua), os, ua);
  }
});

test('sessions continue until idle or too long, then start fresh', () => {
  const lim = { idleTimeoutMs: 1000, maxDurationMs: 5000, sampleRate: 1 };
  const rnd = (b: Uint8Array) => b.fill(0xab);
  const s = resumeOrStart(null, 100, lim, () => 0.5, rnd);
  assert.equal(s.id, 'ab'.repeat(16));
  assert.equal(s.seq, 0);
  assert.equal(s.sampled, true);
  const stored = parseSession(JSON.stringify({ ...s, seq: 4 }));
  assert.deepEqual(resumeOrStart(stored, 900, lim, () => 0.5, rnd), { ...s, seq: 4, last: 900 });
  assert.equal(expired(s, 1101, lim), true, 'idle');
  assert.equal(expired({ ...s, last: 5000 }, 5101, lim), true, 'max duration');
  const fresh = resumeOrStart({ ...s, seq: 9 }, 2000, lim, () => 0.5, (b) => b.fill(1));
  assert.equal(fresh.seq, 0);
  assert.notEqual(fresh.id, s.id);
  assert.equal(resumeOrStart(null, 1, { ...lim, sampleRate: 0.1 }, () => 0.5, rnd).sampled, false);
  for (const bad of [null, '', '{', '{"id":"xyz","seq":1,"start":1,"last":1}', '{"id":"' + 'a'.repeat(32) + '"}']) {
    assert.equal(parseSession(bad), null, String(bad));
  }
  assert.match(newReplayId((b) => b.set([0, 1, 15, 16, 255])), /^00010f10ff0{22}$/);
});

test('language choice and companion cookie', () => {
  const avail = new Set(['en', 'de', 'fr', 'es']);
  assert.equal(primaryTag('de-AT'), 'de');
  assert.equal(pickLanguage(['', 'pt-BR', 'fr-CA'], avail, 'en'), 'fr');
  assert.equal(pickLanguage([null, undefined], avail, 'en'), 'en');
  assert.equal(readCookie('a=1; rg_consent_state=granted.2026-01; b=2', 'rg_consent_state'), 'granted.2026-01');
  assert.equal(readCookie('xrg_consent_state=1', 'rg_consent_state'), null);
  assert.equal(companionDecision('granted.2026-01', '2026-01'), 'granted');
  assert.equal(companionDecision('denied.2026.01', '2026.01'), 'denied');
  assert.equal(companionDecision('granted.2025-12', '2026-01'), null, 'old policy version');
  assert.equal(companionDecision('maybe.2026-01', '2026-01'), null);
  assert.equal(companionDecision(null, '2026-01'), null);
});

test('upload batching helpers', () => {
  assert.deepEqual(chunkEvents(['aaaa', 'bbbb', 'cc'], 12), [['aaaa', 'bbbb'], ['cc']]);
  assert.deepEqual(chunkEvents(['x'.repeat(50)], 10), [['x'.repeat(50)]], 'an oversized event still goes alone');
  assert.deepEqual(chunkEvents([], 10), []);
  assert.equal(backoffMs(1, () => 0.5), 1000);
  assert.equal(backoffMs(3, () => 0.5), 4000);
  assert.equal(backoffMs(20, () => 0.5), 30000);
  assert.ok(backoffMs(2, () => 0) >= 1500 && backoffMs(2, () => 1) <= 2500);
});

test('console arguments are stringified, truncated and URL-scrubbed', () => {
  assert.equal(stringifyArg('plain', []), 'plain');
  assert.equal(stringifyArg({ a: 1 }, []), '{"a":1}');
  assert.equal(stringifyArg(new TypeError('bad'), []), 'TypeError: bad');
  assert.equal(stringifyArg(undefined, []), 'undefined');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(stringifyArg(cyclic, []), '[object Object]');
  assert.equal(stringifyArg('x'.repeat(600), []).length, 501);
  assert.equal(stringifyArg('see https://a.example/p?k=SECRET', []), 'see https://a.example/p?k=');
});
