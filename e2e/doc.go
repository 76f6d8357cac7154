// Package e2e holds replaygate's real-browser tests: headless Chromium
// (Debian's /usr/bin/chromium, driven with chromedp) against a running stack
// — pages, the gate and recorder bundles, consent and ingest endpoints.
//
// startStack (stack_test.go) is the one place that decides what "the stack"
// is; the tests only use its base URL and what it recorded. It currently
// serves inject/web's real bundles with a small stand-in for the consent and
// ingest endpoints that records every upload; switching to the real proxy
// means changing startStack alone.
//
// The package has no non-test code; `go test ./e2e/...` runs it. Set
// REPLAYGATE_CHROMIUM to use another browser binary.
package e2e
