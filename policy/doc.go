// Package policy enforces visitor consent at the gateway.
//
// It decides which consent mode applies to a request (opt-in, opt-out or
// off, per region from a trusted header, with Global Privacy Control
// honoured), serves the {prefix}/consent endpoint that records a visitor's
// decision in a signed HttpOnly cookie, keeps an append-only, fsync'd consent
// proof log (GDPR Art. 7(1)) with retention and export, handles withdrawal
// (refusing the subject's uploads at once and erasing its recordings through
// an injected Eraser, and dropping the subject's segments still in the spool
// via DropWithdrawn), and exports the verifier that ingest uses to accept an
// upload only under a valid, current, granted consent.
//
// Rules as implemented:
//   - Mode per region: Config.Regions[country from RegionHeader], else
//     DefaultMode (opt-in). Without a configured RegionHeader no header is
//     trusted. Under opt-out the gate posts "granted" after showing the
//     notice; the proof record keeps mode "opt-out". Under off a grant is
//     refused (403) and uploads too; a denial is still recorded.
//   - GPC (Sec-GPC: 1) with gpc "refuse" (default) counts as a refusal,
//     never as consent: a grant sent with it is refused with 403 and an
//     error saying so (not a proof record: the visitor decided nothing; an
//     info log line without identifiers and a metric), and an upload sent
//     with it is refused even under an earlier grant. With "ignore" the
//     visitor's explicit choice decides; GPC is still logged as proof.
//   - A decision reuses the subject of a validly signed, unexpired cookie
//     (whatever its decision or policy version). A denial after a grant is
//     a withdrawal.
//
// Files in the data dir: consent.key (generated signing key, 0600, only when
// no secret is configured), consent-log.jsonl (the proof log) and
// consent-withdrawn.jsonl (withdrawn subjects, kept for the longest cookie
// lifetime).
//
// It does not render the consent banner or its texts (inject/web owns them;
// the notice hash is injected), scrub recordings (policy/scrub), or store
// recordings (the store implements Eraser).
package policy
