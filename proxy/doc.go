// Package proxy is replaygate's public face: a front handler that owns
// routing and safety (CONNECT refused, only the configured upstream ever
// contacted, X-Forwarded-* from trusted proxies only, hop-by-hop headers
// stripped both ways), replaygate's own endpoints under a prefix, and the
// goproxy engine with a tuned transport that relays everything else and lets
// a response rewriter (the injector) change HTML on the way.
//
// goproxy is a forward-proxy library. Used naively as a reverse proxy it is an
// open proxy: it serves CONNECT and absolute-form requests to any host. The
// Front handler therefore rewrites every request to the upstream before the
// engine sees it, and wraps the ResponseWriter so that the engine streams
// (it flushes by itself only for text/event-stream), cannot panic on writers
// that cannot be hijacked (HTTP/2), and never sends the dial error text that
// it would put in its own 500 responses. It also watches every upstream
// body: when one breaks off, the visitor's response is aborted rather than
// ended as if complete, and the Content-Length that the engine drops when
// a body is replaced is put back. The headers of a streamed rewritten page
// wait up to a millisecond for its first body bytes, so that both reach
// the visitor in one write; if the body is slower, they go alone. A body
// that fails while its headers are still held has sent nothing, so the
// visitor gets a clean 502 instead of a broken connection.
//
// It does not know about consent, scrubbing or storage: those are handlers
// mounted under the prefix. It only keeps their cookies (Options.OwnCookies)
// from the upstream.
package proxy
