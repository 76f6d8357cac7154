// Package web serves the browser side of replaygate: the consent gate
// (gate.js, injected into every page) and the private-by-default recorder
// (recorder.js, loaded by the gate only after consent).
//
// The TypeScript sources live in src/ and are bundled by esbuild
// (`npm ci && node build.mjs`) into dist/, which this package embeds. New
// writes the active settings into both bundles once — the same bytes for
// every visitor, so a CDN may cache them — precompresses them (br, gzip) and
// serves them under the configured prefix, with content-hashed immutable
// aliases.
//
// The package does not decide consent (see policy/), accept uploads (see
// ingest/) or inject the gate into pages (see inject/).
package web
