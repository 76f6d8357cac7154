// Package viewer serves replaygate's replay viewer on the admin listener: a
// recordings list with delete buttons (GET /), a player (GET /replays/{id}),
// the consent proof log with erasure by visitor (GET /consents) and their
// content-hashed assets (GET /viewer/assets/…, cached for a year). Mount the
// handler from New on "GET /" or on each pattern of Routes; it answers a
// JSON 404 for paths it does not know.
//
// The pages are static shells built from viewer/web (TypeScript, bundled by
// esbuild into viewer/web/dist, embedded here). They carry no data, so they
// need no server-side authentication: the page script asks for the admin
// token with a login form, keeps it in sessionStorage (this browser tab
// only, gone when the tab closes) and sends it as "Authorization: Bearer" on
// every admin API request; a 401 returns to the login form. No cookie is
// ever set, so a browser never authenticates a request on its own and
// cross-site request forgery has nothing to ride on; the token is never put
// into a URL. The cost: a new tab asks for the token again.
//
// Content Security Policy. Every page gets a strict policy: scripts only from
// this origin, no inline script, no eval, no plugins, no framing by others,
// no form submissions, fetches only to this origin. The player page alone
// also allows inline styles ('unsafe-inline' in style-src): rrweb's Replayer
// rebuilds the recorded page inside an about:blank iframe, which inherits
// the parent's policy, and the rebuilt document is made of inline <style>
// elements (the recorder inlines stylesheets) and style attributes; with
// style-src 'self' the replay renders unstyled. Scripts stay strict on that
// page too, and the replay iframe is sandboxed without allow-scripts. Since
// recordings are visitor-controlled input, the rest of the policy limits what
// recorded CSS can do: images and fonts load only from this origin or
// data:/blob: URLs, so recorded CSS cannot call out to third parties (the
// recorded site's own web fonts and background images do not load either; the
// recorder blocks media anyway).
//
// rrweb version. The player bundles @sentry-internal/rrweb at the exact
// version the recorder uses (viewer/web/package.json pins it like
// inject/web/package.json): the Replayer rebuilds snapshots with the
// counterpart of the serializer that produced them, so the event format and
// its quirks (block placeholders, masked text, inlined CSS) always match.
//
// What it does not do: it serves no data and checks no token (the admin
// package does, on /api/), it is never mounted on the public listener, and
// it does not build the bundle — run `npm ci && node build.mjs` in
// viewer/web (make web); New fails when the embedded bundle is missing.
package viewer
