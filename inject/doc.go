// Package inject inserts replaygate's markup (the gate's script tag) into
// HTML responses while they stream through the proxy, and changes nothing
// else.
//
// # What is rewritten
//
// Rewriter.Rewrite takes a response when all of these hold: the request
// method is GET; the status is in Config.Statuses (default 200; 204, 205,
// 206 and 304 are refused by Validate); there is a body; the media type is
// text/html or application/xhtml+xml with an ASCII-compatible charset (not
// UTF-16/32 or ISO-2022-*); Cache-Control has no no-transform (RFC 9110
// 7.7); Content-Disposition is absent or inline; the path starts with no
// Config.ExcludePaths prefix (plain string prefixes, no globs) and is not
// under replaygate's own prefix; there is no Content-Range; and
// Content-Encoding is absent, identity, gzip/x-gzip, deflate or br, alone.
// zstd, compress and stacked codings pass through. Any other response is
// left exactly as it was, headers included.
//
// # Where the markup goes
//
// Right after the first <head …> start tag. Without one: before the first
// thing that cannot live in <head> — a start tag other than html, head,
// base, basefont, bgsound, link, meta, title, style, script, noscript,
// noframes and template, non-whitespace text, or </head> — which puts the
// tag at the end of the implied head, or at the very start (after a UTF-8
// BOM) of a document with no markup before its text. The search is a small
// state machine following the WHATWG tokenizer for comments (including
// <!--> and --!>), doctype and bogus comments, quoted attribute values,
// RCDATA/RAWTEXT (title, style, noscript, noframes) and script data with
// its escaped and double-escaped states; template content is inert and
// skipped. Tag names are matched case-insensitively and may be split
// across reads at any byte. For application/xhtml+xml, CDATA sections and
// processing instructions end XML-style, a self-closing <script/> has no
// content, and nothing is inserted before the root element. After the
// insertion point nothing is parsed.
//
// No insertion happens (the body passes through unchanged) when the
// document has no insertion point, contains a NUL byte or a UTF-16 byte
// order mark before it, or the point is not found within
// Config.MaxHeadBytes decoded bytes.
//
// # Encodings and streaming
//
// gzip, deflate (zlib, and raw deflate when the first two bytes are not a
// zlib header) and br are decoded and re-encoded with the same coding.
// While a compressed body is searched, its raw bytes are kept (bounded by
// MaxHeadBytes plus one read-ahead); if the search fails or the input turns
// out corrupt, those bytes and the rest are passed through byte for byte.
// Once the markup is in, every upstream read is decoded, encoded and
// flushed before Read returns, so a page flushed in parts by the upstream
// reaches the client in parts. Identity bodies are passed straight through
// after the insertion. A decode error after the insertion ends the body
// with that error (the proxy then aborts the response): the headers may
// already have been sent.
//
// Headers of a rewritten response: Content-Length is dropped (the body is
// sent chunked) or, for a page rewritten whole (below), set to the new
// length; a strong ETag becomes weak (W/"…"), Content-MD5,
// Content-Digest, Repr-Digest, Digest and Accept-Ranges are removed,
// everything else (Vary included) is kept. Because headers leave before
// the body is searched, a response whose search later fails keeps these
// header changes although its body is unchanged.
//
// Pages that arrive uncompressed with a Content-Length of at most 256 KiB
// are rewritten whole: read completely (the upstream declared the length,
// so the body is already on its way), injected and re-encoded by a pooled
// private compressor in one go, and sent with a Content-Length in one
// write. For pages of a few dozen kilobytes the per-read flushes of a
// stream cost more than the compression (BENCH_NOTES.md). If such a body
// breaks off, the rewritten body fails too and the proxy aborts the
// response. A streamed page sends its start and the markup as soon as the
// insertion point is found, before encoding the rest of that read.
//
// For everything else, with Config.LowMemory
// (default) gzip and deflate are re-encoded by a
// stateless encoder: about 10 KiB per in-flight response instead of about
// a megabyte. Brotli input needs its window (up to 4 MiB for typical
// servers) and the brotli encoder about 1 MiB per stream; PrepareRequest
// avoids both for page loads.
//
// With Config.SpliceGzip (default), a gzip page that goes out gzip is
// re-encoded only up to 32 KiB past the insertion point (where an upstream
// block or, inside a block, a symbol starts); the rest of the upstream's
// compressed stream is passed on undecoded (splice.go). A 2 MB page costs
// 0.14 ms instead of 7.7 ms (BenchmarkSplice).
// When a spliced page's body starts with the same bytes as the page's
// previous response, its start and the tag are sent before anything is
// decoded, and checked once decoded (pagestart.go): the first byte does
// not wait for the first block's Huffman tables.
//
// # PrepareRequest
//
// With Config.UpstreamIdentity (default), PrepareRequest rewrites the
// Accept-Encoding of GET requests whose Accept names text/html or
// application/xhtml+xml to identity, remembering the client's value in the
// request context; Rewrite then compresses the page for the client (gzip
// if accepted, else br, else deflate) and adds Vary: Accept-Encoding.
// Requests whose client refuses identity are not touched. Assets are not
// touched, so they keep the upstream's compression. Paths known to hold a
// large page that the upstream keeps precompressed are asked for gzip
// instead, to be spliced (hints.go).
//
// # Content-Security-Policy
//
// Every enforced Content-Security-Policy header (and each comma-separated
// policy in it) is examined; Content-Security-Policy-Report-Only headers
// get the same edit so they do not report our script, but never block
// injection. One fresh 128-bit nonce (crypto/rand) is made per response.
// The script directives script-src-elem and script-src (or, when
// script-src is absent, a new script-src copied from default-src, so
// default-src itself and the styles, images and frames it governs stay
// untouched) get 'nonce-…', and our tag carries nonce="…". The gate passes
// the same nonce (document.currentScript.nonce) to the recorder it loads,
// which therefore also passes under 'strict-dynamic'. 'unsafe-inline' is
// never added. A directive with 'unsafe-inline' and no nonce, hash or
// 'strict-dynamic' does not get a nonce, because a nonce would switch the
// site's inline scripts off; it gets our source ('self' or
// Config.PublicOrigin+prefix+"/") unless 'self' or * already allow us.
//
// A script directive of exactly 'none' (or empty) means the site wants no
// script at all: such responses are not rewritten, unless
// Config.OverrideScriptNone is set, which replaces 'none' by the nonce.
//
// connect-src (or a new connect-src copied from default-src) gets our
// source unless 'self' or * already allow it; 'none' is replaced by it.
// Our source is 'self' by default: it is always right behind TLS
// terminators and host rewrites, and the gate only talks to its own
// origin. Setting Config.PublicOrigin narrows it to
// https://host{prefix}/, which a same-origin policy would otherwise widen
// to the whole origin. The response's own Host and X-Forwarded-* headers
// are deliberately not used, as the proxy cannot always vouch for them.
//
// <meta http-equiv="Content-Security-Policy"> policies in the document
// are not read or changed. A meta policy only governs what comes after it;
// our tag normally sits right after <head>, before any meta policy, so it
// loads, but what the gate does later (loading recorder.js, calling
// {prefix}/consent and {prefix}/ingest) is subject to the meta policy and
// fails if that policy does not allow 'self'. The gate is expected to
// handle such a failure quietly (no recording). For a page without <head>
// the tag comes after any meta elements, and a meta policy may then block
// the tag itself.
//
// The injected markup is identical for every visitor apart from the
// nonce, so pages stay cacheable by shared caches (a cached page repeats
// its nonce, as with any nonce-based CSP).
package inject
