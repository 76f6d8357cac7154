// test/timeline.test.ts
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

// src/format.ts
function shortURL(raw) {
  try {
    const u = new URL(raw);
    return u.pathname + u.search + u.hash;
  } catch {
    return raw;
  }
}

// src/timeline.ts
var EventType = { FullSnapshot: 2, IncrementalSnapshot: 3, Meta: 4, Custom: 5 };
var SOURCE_MOUSE_INTERACTION = 2;
var MOUSE_CLICK = 2;
var Tag = { Console: "replaygate/console", Network: "replaygate/network", Env: "replaygate/env" };
var isObj = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
var str = (v) => typeof v === "string" ? v : void 0;
var num = (v) => typeof v === "number" && Number.isFinite(v) ? v : void 0;
var MAX_LABEL = 120;
function clip(s) {
  return s.length > MAX_LABEL ? s.slice(0, MAX_LABEL - 1) + "\u2026" : s;
}
function analyze(events, start) {
  let first = Infinity;
  let last = -Infinity;
  for (const ev of events) {
    if (!isObj(ev) || typeof ev.timestamp !== "number" || !Number.isFinite(ev.timestamp)) continue;
    first = Math.min(first, ev.timestamp);
    last = Math.max(last, ev.timestamp);
  }
  const t0 = start ?? (Number.isFinite(first) ? first : 0);
  const out = {
    start: t0,
    duration: Number.isFinite(last) ? Math.max(0, last - t0) : 0,
    markers: [],
    console: [],
    network: [],
    env: null,
    playable: false
  };
  for (const ev of events) {
    if (!isObj(ev) || typeof ev.timestamp !== "number" || !Number.isFinite(ev.timestamp)) continue;
    const offset = Math.max(0, ev.timestamp - t0);
    const data = ev.data;
    switch (ev.type) {
      case EventType.FullSnapshot:
        out.playable = true;
        break;
      case EventType.Meta: {
        const href = isObj(data) ? str(data.href) : void 0;
        if (href) out.markers.push({ kind: "page", offset, label: clip(shortURL(href)) });
        break;
      }
      case EventType.IncrementalSnapshot:
        if (isObj(data) && data.source === SOURCE_MOUSE_INTERACTION && data.type === MOUSE_CLICK) {
          out.markers.push({ kind: "click", offset, label: "Click" });
        }
        break;
      case EventType.Custom:
        if (isObj(data)) custom(out, offset, str(data.tag), data.payload);
        break;
    }
  }
  const order = (a, b) => a.offset - b.offset;
  out.markers.sort(order);
  out.console.sort(order);
  out.network.sort(order);
  return out;
}
function custom(out, offset, tag, payload) {
  if (!isObj(payload)) return;
  switch (tag) {
    case Tag.Console: {
      const level = str(payload.level) ?? "log";
      const args = Array.isArray(payload.args) ? payload.args.map((a) => typeof a === "string" ? a : JSON.stringify(a) ?? "") : [];
      const entry = { offset, level, args };
      const trace = str(payload.trace);
      if (trace) entry.trace = trace;
      out.console.push(entry);
      if (level === "error") out.markers.push({ kind: "error", offset, label: clip("Console error: " + (args.join(" ") || "(no message)")) });
      break;
    }
    case Tag.Network: {
      const url = str(payload.url);
      if (!url) return;
      const entry = {
        offset,
        kind: str(payload.kind) ?? "fetch",
        method: str(payload.method) ?? "GET",
        url,
        status: num(payload.status) ?? 0
      };
      const d = num(payload.durationMs);
      if (d !== void 0) entry.durationMs = d;
      const rq = num(payload.requestBytes);
      if (rq !== void 0) entry.requestBytes = rq;
      const rs = num(payload.responseBytes);
      if (rs !== void 0) entry.responseBytes = rs;
      out.network.push(entry);
      break;
    }
    case Tag.Env: {
      if (out.env) return;
      const env = {};
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
        if (width !== void 0 && height !== void 0) env.viewport = { width, height };
      }
      out.env = env;
      break;
    }
  }
}
function percent(offset, duration) {
  if (duration <= 0) return 0;
  return Math.min(100, Math.max(0, offset / duration * 100));
}
function lastAtOrBefore(entries, offset) {
  let lo = 0;
  let hi = entries.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = lo + hi >> 1;
    if ((entries[mid]?.offset ?? Infinity) <= offset) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

// test/timeline.test.ts
var fixture = JSON.parse(readFileSync(new URL("../../testdata/recording.json", import.meta.url), "utf8"));
test("analyze: markers, console, network and environment of the fixture", () => {
  const a = analyze(fixture);
  assert.equal(a.playable, true);
  assert.equal(a.start, 1764336e6);
  assert.equal(a.duration, 6400);
  assert.deepEqual(
    a.markers.map((m) => [m.kind, m.offset]),
    [
      ["page", 0],
      ["click", 1520],
      ["error", 2100],
      ["click", 2700],
      ["page", 4200],
      ["click", 5600],
      ["error", 5700]
    ]
  );
  assert.equal(a.markers[0]?.label, "/products");
  assert.match(a.markers[2]?.label ?? "", /^Console error: TypeError: Cannot read properties/);
  assert.deepEqual(
    a.console.map((c) => c.level),
    ["error", "warn", "log", "error"]
  );
  assert.match(a.console[0]?.trace ?? "", /updateTotal/);
  assert.deepEqual(a.network[1], {
    offset: 2150,
    kind: "xhr",
    method: "GET",
    url: "http://shop.test/api/recommendations?page=2",
    status: 503,
    durationMs: 1210,
    responseBytes: 58
  });
  assert.deepEqual(a.env, {
    browser: "Chrome 131",
    os: "Linux",
    language: "en-US",
    url: "http://shop.test/products",
    viewport: { width: 1024, height: 640 }
  });
});
test("analyze: tolerates junk and reports unplayable recordings", () => {
  const junk = [
    { type: 5, timestamp: 10, data: { tag: "replaygate/console", payload: "not an object" } },
    { type: 5, timestamp: 20, data: { tag: "replaygate/network", payload: { method: "GET" } } },
    // no url: skipped
    { type: 5, timestamp: 30, data: { tag: "replaygate/console", payload: { level: "error", args: [1, { a: 2 }] } } },
    { type: 3, timestamp: 40, data: null },
    { type: 4, timestamp: "x", data: { href: "http://a/" } },
    null
  ];
  const a = analyze(junk);
  assert.equal(a.playable, false);
  assert.equal(a.duration, 30);
  assert.equal(a.network.length, 0);
  assert.deepEqual(a.console, [{ offset: 20, level: "error", args: ["1", '{"a":2}'] }]);
  assert.deepEqual(a.markers.map((m) => m.kind), ["error"]);
  assert.deepEqual(analyze([]).markers, []);
});
test("analyze: only the first environment event counts; offsets from a given start", () => {
  const evs = [
    { type: 5, timestamp: 1e3, data: { tag: "replaygate/env", payload: { browser: "Firefox 128" } } },
    { type: 5, timestamp: 2e3, data: { tag: "replaygate/env", payload: { browser: "Other" } } }
  ];
  const a = analyze(evs, 500);
  assert.equal(a.env?.browser, "Firefox 128");
  assert.equal(a.duration, 1500);
});
test("percent and lastAtOrBefore", () => {
  assert.equal(percent(50, 200), 25);
  assert.equal(percent(-1, 200), 0);
  assert.equal(percent(500, 200), 100);
  assert.equal(percent(5, 0), 0);
  const e = [{ offset: 0 }, { offset: 10 }, { offset: 10 }, { offset: 30 }];
  const cases = [
    [-1, -1],
    [0, 0],
    [9, 0],
    [10, 2],
    [29, 2],
    [30, 3],
    [99, 3]
  ];
  for (const [at, want] of cases) assert.equal(lastAtOrBefore(e, at), want, `at ${at}`);
  assert.equal(lastAtOrBefore([], 5), -1);
});
