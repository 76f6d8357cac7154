// Package e2e holds replaygate's real-browser tests: headless Chromium
// (Debian's /usr/bin/chromium, driven with chromedp) against the real
// product.
//
// startStack (stack_test.go) builds, per test:
//
//	Chromium → tap → replaygate (app.New) → test site
//
// The test site serves testdata/*.html as a site would: its own
// per-response nonce for its inline scripts, and a strict nonce CSP on
// csp-* pages. replaygate is the whole product with its default
// configuration (tuned per test through config.Config: consent mode,
// regions, GPC policy, recording, banner): its injector inserts the gate and
// extends the CSP, its consent endpoint sets the signed cookie, its ingest
// enforces consent, scrubs and spools, and its local store keeps the
// recording, which the tests read back through the admin API
// (Stack.Replays, Stack.Replay, Stack.StoredEvents; settle waits for the
// asynchronous delivery). The tap is an httputil.ReverseProxy that keeps
// the browser's Host header and copies what the browser sent to
// {prefix}/consent and {prefix}/ingest before replaygate sees it
// (Stack.Segments, Accepted, Decisions, Hits): the leak tests check the
// wire as well as the store, because the browser-side masking must hold
// without the edge scrubber.
//
// testdata/leak.html plants a LEAK_* marker in every known leak route;
// TestNoMarkerLeaks asserts none reaches ingest or the store,
// TestLeakHarnessControl that both do see page text and typed values when
// masking is switched off.
//
// All tests share one Chromium (started on first use, stopped by TestMain);
// each test gets a new browser context, so cookies, storage and cache start
// empty. The package has no non-test code; `go test ./e2e/` runs it (about
// 60 s).
// BenchmarkRecorderOverhead (run on request) compares main-thread time and
// upload bytes with no recorder, plain rrweb and ours. Set
// REPLAYGATE_CHROMIUM to use another browser binary, REPLAYGATE_E2E_DUMP to a
// directory to keep the leak tests' recordings (wire and stored).
package e2e
