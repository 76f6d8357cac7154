package forward

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
)

// Headers of the HTTP collector protocol.
const (
	// SignatureHeader carries "sha256=" + hex HMAC-SHA256 over
	// timestamp + "." + body, keyed with the shared secret.
	SignatureHeader = "X-Replaygate-Signature"
	// TimestampHeader carries the Unix time (seconds) of signing; the
	// collector rejects stale ones, so a captured request cannot be replayed
	// later.
	TimestampHeader = "X-Replaygate-Timestamp"
	// IdempotencyHeader carries Segment.Key(); a collector stores each key
	// once.
	IdempotencyHeader = "Idempotency-Key"
)

// HTTPCollector posts each segment as JSON
// {"replayId","seq","subject","receivedAt","events"} to a collector URL,
// signed with HMAC-SHA256.
type HTTPCollector struct {
	url    string
	secret []byte
	client *http.Client
	log    zerolog.Logger
	resp   responses
	ua     string
	now    func() time.Time

	concurrency int
}

// NewHTTPCollector returns a forwarder for cfg.URL.
func NewHTTPCollector(cfg HTTPConfig, log zerolog.Logger) *HTTPCollector {
	return &HTTPCollector{
		url:    cfg.URL,
		secret: []byte(cfg.Secret),
		client: newHTTPClient(cfg.Timeout),
		log:    log.With().Str("forwarder", "http").Logger(),
		ua:     "replaygate/" + clientVersion(),
		now:    time.Now,

		concurrency: cfg.Concurrency,
	}
}

// MaxInFlight implements spool.InFlightLimiter.
func (h *HTTPCollector) MaxInFlight() int { return h.concurrency }

// Name implements spool.Forwarder.
func (h *HTTPCollector) Name() string { return "http" }

// Close releases idle connections.
func (h *HTTPCollector) Close() error {
	h.client.CloseIdleConnections()
	return nil
}

// Forward implements spool.Forwarder.
func (h *HTTPCollector) Forward(ctx context.Context, seg spool.Segment) error {
	seg, err := withEvents("http", seg)
	if err != nil {
		return err
	}
	body, err := json.Marshal(seg)
	if err != nil {
		return spool.Permanent(fmt.Errorf("http: encode segment: %w", err))
	}
	ts := strconv.FormatInt(h.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return spool.Permanent(fmt.Errorf("http: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", h.ua)
	req.Header.Set(IdempotencyHeader, seg.Key())
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(h.secret, ts, body))
	resp, err := h.client.Do(req)
	if err != nil {
		return transportError("http", err)
	}
	h.resp.observe("http", resp.StatusCode)
	err = classify("http", resp, h.now())
	if err != nil {
		// Status only: response bodies may echo what was sent.
		h.log.Debug().Int("status", resp.StatusCode).Str("key", seg.Key()).Msg("destination refused segment")
	}
	return err
}

// Sign returns the SignatureHeader value for body sent at timestamp ts.
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Errors from VerifySignature.
var (
	ErrBadSignature = errors.New("forward: signature does not match")
	ErrStale        = errors.New("forward: timestamp outside the allowed window")
)

// VerifySignature is the collector side of the protocol: it checks the
// signature and timestamp headers of a request carrying body, allowing
// clocks to differ by up to skew. Collectors also dedupe on
// Idempotency-Key, which covers replays inside the window.
func VerifySignature(secret []byte, signature, ts string, body []byte, now time.Time, skew time.Duration) error {
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrStale
	}
	if d := now.Sub(time.Unix(secs, 0)); d > skew || d < -skew {
		return ErrStale
	}
	if !strings.HasPrefix(signature, "sha256=") ||
		!hmac.Equal([]byte(signature), []byte(Sign(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}
