// Benchmark baseline only (never shipped): rrweb with its default options,
// uploading uncompressed JSON every 5 s the way a plain integration does.
import { record } from '@sentry-internal/rrweb';

const events: unknown[] = [];
let seq = 0;
const id = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
record({ emit: (e) => void events.push(e) });
setInterval(() => {
  if (events.length === 0) return;
  const body = JSON.stringify(events.splice(0));
  void fetch('/__replay/ingest?replay=' + id + '&seq=' + seq++, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body,
  });
}, 5000);
