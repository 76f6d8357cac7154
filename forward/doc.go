// Package forward holds the remote destinations of spooled segments:
// Sentry (replay envelopes), an HTTP collector (signed JSON) and NATS
// JetStream. Each is a spool.Forwarder; Build makes the ones the
// configuration enables. Each sends the segment's scrubbed JSON
// (spool.Segment.EventsJSON: ingest spools it as a gzip member, which is
// decompressed here); a member that does not decompress is permanent.
//
// Forwarders turn a destination's answer into the spool's retry policy:
// transient failures (network, 408, 429, 5xx) are plain errors the spool
// retries with backoff, honouring Retry-After; rejections that retrying
// cannot fix (other 4xx, oversize) are spool.Permanent, so one bad segment
// does not hold the queue. Errors carry status codes, never response
// bodies, and nothing here logs segment contents.
//
// The local store forwarder lives in package store; this package only
// carries its on/off switch in Config.
package forward
