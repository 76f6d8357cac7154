package forward

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/replaygate/replaygate/spool"
)

// maxErrorBody bounds how much of an error response is read (and
// discarded) so the connection can be reused.
const maxErrorBody = 4 << 10

// StatusError is a destination's non-2xx answer. Only the status code is
// kept: response bodies may echo data and never reach the logs.
type StatusError struct {
	Forwarder string
	Code      int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: destination answered %d", e.Forwarder, e.Code)
}

// classify turns a response into nil, a retryable error (with the delay
// the destination asked for) or a spool.Permanent error, and releases the
// body.
func classify(name string, resp *http.Response, now time.Time) error {
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	err := &StatusError{Forwarder: name, Code: code}
	switch {
	case code == http.StatusTooManyRequests:
		return spool.RetryAfter(err, retryAfter(resp.Header, now))
	case code == http.StatusServiceUnavailable:
		return spool.RetryAfter(err, retryAfter(resp.Header, now))
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code >= 500:
		return err
	default:
		// 3xx (never followed: a redirect of a signed POST is a
		// misconfiguration) and the remaining 4xx will not change on retry.
		return spool.Permanent(err)
	}
}

// maxRetryAfter caps a destination's requested delay (and keeps the
// arithmetic below from overflowing).
const maxRetryAfter = 24 * time.Hour

// retryAfter reads Retry-After (seconds or HTTP date) and Sentry's
// X-Sentry-Rate-Limits, returning the longest delay that applies to
// replays, or 0.
func retryAfter(h http.Header, now time.Time) time.Duration {
	var d time.Duration
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
			d = time.Duration(min(secs, int(maxRetryAfter/time.Second))) * time.Second
		} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
			d = t.Sub(now)
		}
	}
	// "60:replay;error:organization, 10::project": seconds, then the
	// categories the limit covers (empty means all).
	for _, limit := range strings.Split(h.Get("X-Sentry-Rate-Limits"), ",") {
		parts := strings.Split(strings.TrimSpace(limit), ":")
		if len(parts) < 2 {
			continue
		}
		secs, err := strconv.ParseFloat(parts[0], 64)
		if err != nil || !(secs > 0) {
			continue
		}
		secs = min(secs, maxRetryAfter.Seconds())
		applies := parts[1] == ""
		for _, cat := range strings.Split(parts[1], ";") {
			applies = applies || cat == "replay"
		}
		if applies {
			d = max(d, time.Duration(secs*float64(time.Second)))
		}
	}
	return min(d, maxRetryAfter)
}

// transportError strips the URL from a client error: a collector URL may
// carry credentials in its query.
func transportError(name string, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("%s: send: %w", name, err)
}

// newHTTPClient returns a client that never follows redirects.
func newHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 8
	return &http.Client{
		Timeout:   timeout,
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// clientVersion is replaygate's module version, for User-Agent and the
// Sentry client name.
func clientVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// responses counts destination answers by forwarder and status code.
type responses struct{ *prometheus.CounterVec }

func newResponses(reg prometheus.Registerer) (responses, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "replaygate_forward_responses_total",
		Help: "HTTP answers from forwarding destinations, by forwarder and status code.",
	}, []string{"forwarder", "code"})
	if reg != nil {
		if err := reg.Register(c); err != nil {
			return responses{}, err
		}
	}
	return responses{c}, nil
}

func (r responses) observe(name string, code int) {
	if r.CounterVec != nil {
		r.WithLabelValues(name, strconv.Itoa(code)).Inc()
	}
}
