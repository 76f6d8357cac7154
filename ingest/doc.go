// Package ingest serves POST {prefix}/ingest: the recorder's uploads.
//
// Handler refuses, in this order and before reading the body where it can,
// anything that is not a same-origin POST under a valid granted consent
// cookie, within the per-subject and overall rate limits, with a JSON content
// type, identity or gzip encoding, a 32-hex replay id and a small sequence
// number. It then reads the body within a wire limit, decompresses it within
// a decoded limit (stopping a decompression bomb early), has the scrubber
// validate and scrub it in one pass, and appends the scrubbed segment to the
// durable spool before answering 202. The scrubbed events are compressed
// once, here (ingest.gzip_level), and spooled as spool.Segment.Gzip; the
// local store writes that member as it is. The upload's own compressed
// bytes are never kept: bits a decoder ignores could carry data past the
// scrubber. Nothing of a refused upload is kept.
// A body starting with the gzip magic is decompressed even without
// Content-Encoding, since sendBeacon cannot set that header. A repeated seq
// is accepted again; downstream dedupes by spool.Segment.Key.
//
// It does not judge consent itself (policy does), detect PII (policy/scrub)
// or deliver segments (spool and its forwarders).
package ingest
