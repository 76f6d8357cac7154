package forward

import (
	"errors"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
)

// Build validates cfg and returns the remote forwarders it enables, in the
// order sentry, http, nats. The local store forwarder is not among them:
// the caller builds it from the store when cfg.Local.Enabled. Each returned
// forwarder is an io.Closer; close them after the spool has stopped (see
// CloseAll).
func Build(cfg Config, log zerolog.Logger, reg prometheus.Registerer) ([]spool.Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	resp, err := newResponses(reg)
	if err != nil {
		return nil, err
	}
	var out []spool.Forwarder
	if cfg.Sentry.DSN != "" {
		s, err := NewSentry(cfg.Sentry, log)
		if err != nil {
			return nil, err
		}
		s.resp = resp
		out = append(out, s)
	}
	if cfg.HTTP.URL != "" {
		h := NewHTTPCollector(cfg.HTTP, log)
		h.resp = resp
		out = append(out, h)
	}
	if cfg.NATS.URL != "" {
		n, err := NewNATS(cfg.NATS, log)
		if err != nil {
			CloseAll(out)
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// CloseAll closes every forwarder that is an io.Closer.
func CloseAll(fwds []spool.Forwarder) error {
	var errs []error
	for _, f := range fwds {
		if c, ok := f.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
