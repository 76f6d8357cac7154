package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
)

// NATS publishes each segment as JSON to a JetStream subject with
// Nats-Msg-Id set to Segment.Key(), so the stream drops redeliveries inside
// its duplicate window, and waits for the stream's acknowledgement.
type NATS struct {
	cfg NATSConfig
	nc  *nats.Conn
	js  jetstream.JetStream
	log zerolog.Logger

	mu      sync.Mutex
	ensured bool // the stream is known to exist
}

// NewNATS connects to cfg.URL. The connection keeps retrying in the
// background, so a server that is down at start only delays delivery.
func NewNATS(cfg NATSConfig, log zerolog.Logger) (*NATS, error) {
	log = log.With().Str("forwarder", "nats").Logger()
	opts := []nats.Option{
		nats.Name("replaygate"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.Timeout(cfg.Timeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn().Msg("nats disconnected")
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info().Msg("nats reconnected") }),
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %w", err)
	}
	return &NATS{cfg: cfg, nc: nc, js: js, log: log}, nil
}

// MaxInFlight implements spool.InFlightLimiter.
func (n *NATS) MaxInFlight() int { return n.cfg.Concurrency }

// Name implements spool.Forwarder.
func (n *NATS) Name() string { return "nats" }

// Close closes the connection.
func (n *NATS) Close() error {
	n.nc.Close()
	return nil
}

// Forward implements spool.Forwarder.
func (n *NATS) Forward(ctx context.Context, seg spool.Segment) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	if err := n.ensureStream(ctx); err != nil {
		return err
	}
	seg, err := withEvents("nats", seg)
	if err != nil {
		return err
	}
	data, err := json.Marshal(seg)
	if err != nil {
		return spool.Permanent(fmt.Errorf("nats: encode segment: %w", err))
	}
	if mp := n.nc.MaxPayload(); mp > 0 && int64(len(data)) > mp {
		return spool.Permanent(fmt.Errorf("nats: segment of %d bytes exceeds the server's max_payload %d", len(data), mp))
	}
	msg := nats.NewMsg(n.cfg.Subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, seg.Key())
	msg.Header.Set("Replaygate-Replay-Id", seg.ReplayID)
	msg.Header.Set("Replaygate-Seq", strconv.Itoa(seg.Seq))
	var opts []jetstream.PublishOpt
	if n.cfg.Stream != "" {
		opts = append(opts, jetstream.WithExpectStream(n.cfg.Stream))
	}
	if _, err := n.js.PublishMsg(ctx, msg, opts...); err != nil {
		if errors.Is(err, nats.ErrMaxPayload) {
			return spool.Permanent(fmt.Errorf("nats: publish: %w", err))
		}
		return fmt.Errorf("nats: publish: %w", err)
	}
	return nil
}

// ensureStream creates the configured stream once, if asked to.
func (n *NATS) ensureStream(ctx context.Context) error {
	if !n.cfg.CreateStream {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ensured {
		return nil
	}
	_, err := n.js.Stream(ctx, n.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = n.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:       n.cfg.Stream,
			Subjects:   []string{n.cfg.Subject},
			Storage:    jetstream.FileStorage,
			Duplicates: n.cfg.DuplicateWindow,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // created concurrently by another replica
		}
		if err == nil {
			n.log.Info().Str("stream", n.cfg.Stream).Msg("created nats stream")
		}
	}
	if err != nil {
		return fmt.Errorf("nats: stream %s: %w", n.cfg.Stream, err)
	}
	n.ensured = true
	return nil
}
