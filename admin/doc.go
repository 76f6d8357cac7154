// Package admin serves replaygate's admin API on the admin listener:
//
//	GET    /healthz                   liveness (no token)
//	GET    /readyz                    readiness, 503 {"status","error"} (no token)
//	GET    /metrics                   Prometheus
//	GET    /api/replays[?subject=…]   {"replays":[store.Meta…]}, newest first
//	GET    /api/replays/{id}          store.Meta
//	GET    /api/replays/{id}/events   the merged rrweb event array, streamed
//	DELETE /api/replays/{id}          204
//	GET    /api/consents[?subject=…]  {"consents":[…]} (the consent proof log)
//	DELETE /api/subjects/{subject}    204: erases the subject's recordings
//
// Everything but the health checks needs "Authorization: Bearer <token>",
// compared in constant time; failures are 401 with WWW-Authenticate: Bearer.
// Errors are short JSON {"error":"…"} saying what to fix (400 for a bad id
// or subject, 404 for an unknown replay or path), never internal error text.
// Every response carries nosniff, no-store, no-referrer and a frame-ancestors
// 'none' policy.
//
// New returns an http.Handler; the caller owns the listener and its
// shutdown. The viewer UI is not built here: New mounts the viewer handler
// given in Deps on the remaining GET paths (/, /replays/{id}, its assets).
// Viewer pages are data-free shells; everything they show comes from the API
// with the bearer token, which a browser never sends on its own (no cookies,
// so no CSRF). Nothing in this package is ever mounted on the public
// listener.
package admin
