// test/format.test.ts
import assert from "node:assert/strict";
import { test } from "node:test";

// src/format.ts
function formatClock(ms) {
  const total = Math.max(0, Math.floor(ms / 1e3));
  const h = Math.floor(total / 3600);
  const m = Math.floor(total % 3600 / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "\u2014";
  const total = Math.floor(ms / 1e3);
  if (total < 60) return `${total} s`;
  const h = Math.floor(total / 3600);
  const m = Math.floor(total % 3600 / 60);
  const s = total % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  return `${m} min ${String(s).padStart(2, "0")} s`;
}
function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return "\u2014";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
function parseTime(s) {
  if (!s) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}
function shortURL(raw) {
  try {
    const u = new URL(raw);
    return u.pathname + u.search + u.hash;
  } catch {
    return raw;
  }
}

// test/format.test.ts
test("formatClock", () => {
  const cases = [
    [0, "0:00"],
    [999, "0:00"],
    [61e3, "1:01"],
    [36e5, "1:00:00"],
    [3723e3, "1:02:03"],
    [-5, "0:00"]
  ];
  for (const [ms, want] of cases) assert.equal(formatClock(ms), want, String(ms));
});
test("formatDuration", () => {
  const cases = [
    [6400, "6 s"],
    [59400, "59 s"],
    [65e3, "1 min 05 s"],
    [372e4, "1 h 02 min"],
    [-1, "\u2014"],
    [NaN, "\u2014"]
  ];
  for (const [ms, want] of cases) assert.equal(formatDuration(ms), want, String(ms));
});
test("formatBytes", () => {
  const cases = [
    [0, "0 B"],
    [1023, "1023 B"],
    [2867, "2.8 KiB"],
    [10 * 1024, "10 KiB"],
    [5 * 1024 * 1024, "5.0 MiB"],
    [-1, "\u2014"]
  ];
  for (const [n, want] of cases) assert.equal(formatBytes(n), want, String(n));
});
test("parseTime and shortURL", () => {
  assert.equal(parseTime("2025-11-28T13:20:00Z")?.getTime(), Date.UTC(2025, 10, 28, 13, 20));
  assert.equal(parseTime(""), null);
  assert.equal(parseTime("yesterday"), null);
  assert.equal(shortURL("http://shop.test/products/1?ref=x#top"), "/products/1?ref=x#top");
  assert.equal(shortURL("not a url"), "not a url");
});
