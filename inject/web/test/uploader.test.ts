import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Uploader } from '../src/uploader';

interface Call {
  url: string;
  init: RequestInit;
  events: unknown[];
}

// A fake ingest endpoint answering from a script of statuses.
function fakeFetch(statuses: number[], calls: Call[]): typeof fetch {
  return (async (url: string, init: RequestInit) => {
    const buf = Buffer.from(await (init.body as Blob).arrayBuffer());
    const gz = (init.headers as Record<string, string>)['Content-Encoding'] === 'gzip';
    calls.push({ url, init, events: JSON.parse((gz ? gunzipSync(buf) : buf).toString('utf8')) });
    return new Response(null, { status: statuses.length > 1 ? statuses.shift()! : statuses[0] });
  }) as unknown as typeof fetch;
}

function uploader(statuses: number[], calls: Call[], extra: Partial<ConstructorParameters<typeof Uploader>[0]> = {}) {
  let seq = 0;
  let forbidden = 0;
  const u = new Uploader({
    endpoint: '/__replay/ingest',
    replayId: 'ab'.repeat(16),
    intervalMs: 60000,
    maxBytes: 1 << 20,
    nextSeq: () => seq++,
    onForbidden: () => {
      forbidden++;
      u.discard();
    },
    fetch: fakeFetch(statuses, calls),
    ...extra,
  });
  return { u, forbidden: () => forbidden };
}

async function settle(ms = 30): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

// until waits for cond on real event-loop turns (compression runs on real
// streams), failing after limitMs of wall time rather than after a fixed
// number of turns, so a loaded machine does not make the test flaky.
async function until(cond: () => boolean, what: string, limitMs = 10000, step?: () => void): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > limitMs) assert.fail('timed out waiting for ' + what);
    if (step) step();
    await new Promise((r) => setImmediate(r));
  }
}

test('batches are gzip-compressed and numbered in order', async () => {
  const calls: Call[] = [];
  const { u } = uploader([202], calls);
  u.add({ type: 4, n: 1 });
  u.add({ type: 2, n: 2 });
  u.flush();
  await until(() => calls.length === 1, 'first upload');
  u.add({ type: 3, n: 3 });
  u.flush();
  await until(() => calls.length === 2, 'second upload');
  await settle();
  u.discard();
  assert.equal(calls.length, 2);
  assert.equal(calls[0].url, '/__replay/ingest?replay=' + 'ab'.repeat(16) + '&seq=0');
  assert.equal(calls[1].url.endsWith('&seq=1'), true);
  assert.equal((calls[0].init.headers as Record<string, string>)['Content-Encoding'], 'gzip');
  assert.deepEqual(calls[0].events, [{ type: 4, n: 1 }, { type: 2, n: 2 }]);
  assert.equal(calls[0].init.keepalive, true, 'small bodies survive navigation');
});

test('403 stops uploading and discards everything', async () => {
  const calls: Call[] = [];
  const { u, forbidden } = uploader([403], calls);
  u.add({ n: 1 });
  u.flush();
  await until(() => forbidden() === 1, 'the 403 to be handled');
  u.add({ n: 2 });
  u.flush();
  await settle();
  assert.equal(forbidden(), 1);
  assert.equal(calls.length, 1, 'nothing sent after 403');
});

test('413 splits the batch in two with new segment numbers', async () => {
  const calls: Call[] = [];
  const { u } = uploader([413, 202], calls);
  for (let i = 0; i < 4; i++) u.add({ n: i });
  u.flush();
  await until(() => calls.length === 3, 'the split halves');
  await settle();
  u.discard();
  assert.equal(calls.length, 3);
  assert.deepEqual(calls[1].events, [{ n: 0 }, { n: 1 }]);
  assert.deepEqual(calls[2].events, [{ n: 2 }, { n: 3 }]);
  assert.deepEqual(calls.map((c) => c.url.split('seq=')[1]), ['0', '1', '2']);
});

test('5xx is retried with backoff, keeping the segment number', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  const calls: Call[] = [];
  const { u } = uploader([503, 202], calls);
  u.add({ n: 1 });
  u.flush();
  // Let the compression and the first request complete on real promises.
  await until(() => calls.length >= 1, 'first attempt');
  assert.equal(calls.length, 1);
  // Advance the mocked clock in small steps until the backoff timer fires.
  await until(() => calls.length >= 2, 'the retry', 10000, () => t.mock.timers.tick(100));
  u.discard();
  assert.equal(calls.length, 2, 'retried once after backoff');
  assert.equal(calls[1].url, calls[0].url);
});

test('a full buffer uploads before the interval', async () => {
  const calls: Call[] = [];
  const { u } = uploader([202], calls, { maxBytes: 100 });
  u.add({ pad: 'x'.repeat(60) });
  assert.equal(calls.length, 0);
  u.add({ pad: 'y'.repeat(60) });
  await until(() => calls.length >= 1, 'the size-triggered upload');
  u.discard();
  assert.ok(calls.length >= 1, 'flushed by size');
});

test('discard drops pending events', async () => {
  const calls: Call[] = [];
  const { u } = uploader([202], calls);
  u.add({ n: 1 });
  u.discard();
  u.flush();
  u.add({ n: 2 });
  u.flush();
  await settle();
  assert.equal(calls.length, 0);
});
