// Package e2e holds replaygate's real-browser tests: headless Chromium
// (Debian's /usr/bin/chromium, driven with chromedp) against a running stack
// — pages, the gate and recorder bundles, consent and ingest endpoints.
//
// startStack (stack_test.go) is the one place that decides what "the stack"
// is; the tests only use Stack.URL, Segments (what ingest accepted),
// Consents (decisions posted) and Hits (requests per kind). Today it serves
// inject/web's real bundles next to a small stand-in for the consent and
// ingest endpoints (a real HTTP server that records what arrives; its
// cookie is unsigned) and plays the injector for testdata/*.html: the
// {{gate}} and {{nonce}} placeholders, plus a strict nonce CSP for csp-*
// pages. Moving to the real proxy means: serve testdata as the upstream,
// let the proxy inject the gate, and read segments back from the store —
// only startStack changes.
//
// testdata/leak.html plants a LEAK_* marker in every known leak route;
// TestNoMarkerLeaks asserts none reaches ingest, TestLeakHarnessControl that
// the harness does see them when masking is switched off.
//
// The package has no non-test code; `go test ./e2e/...` runs it (about 90 s).
// BenchmarkRecorderOverhead (run on request) compares main-thread time and
// upload bytes with no recorder, plain rrweb and ours. Set
// REPLAYGATE_CHROMIUM to use another browser binary, REPLAYGATE_E2E_DUMP to a
// directory to keep the leak test's recordings.
package e2e
