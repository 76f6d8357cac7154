// Package scrub removes personal data from rrweb recordings at the edge.
//
// A Scanner walks every string of an uploaded rrweb event array (DOM text,
// attribute values, CSS, URLs, console arguments, network metadata, custom
// events, and object keys) in a single pass that also validates the upload:
// well-formed JSON, valid UTF-8, bounded nesting, an array of objects with
// numeric "type" and "timestamp". Detectors match on the decoded string, so
// JSON escapes cannot hide a value, and rewritten strings are re-encoded as
// valid JSON; untouched bytes are copied unchanged.
//
// Built-in detectors (each switchable, each with its own method): credit
// cards (issuer prefix, length, Luhn), US SSNs, e-mail addresses, IPv4 and
// IPv6 addresses, IBANs (mod 97), JWTs, Bearer tokens, PEM private keys,
// well-known API key formats, credentials in URLs, sensitive URL parameters
// and values under sensitive JSON keys; custom rules add regular
// expressions. Form fields that a sibling attribute marks as secret
// (type="password" or "hidden", any autocomplete token, a name or id such as
// csrf_token or api-key) have their "value"/"content" scrubbed whole, in
// whichever order the attributes come. Methods: mask (keeps length, so a replay keeps its layout),
// replace, hash (keyed HMAC, stable) and remove. Scrubbing is idempotent.
//
// The package does not decompress, limit body sizes, check consent, log or
// store anything; callers do. It reports what it saw in a Result (events,
// hits per detector, time range, page URLs) for metrics and metadata.
package scrub
