package forward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zlib"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
)

// maxSentryRecording is Relay's limit on a compressed replay_recording item.
const maxSentryRecording = 10 << 20

// dsn is a parsed Sentry DSN.
type dsn struct {
	endpoint  string // the envelope endpoint
	publicKey string
	public    string // the DSN without its secret, for the envelope header
}

// parseDSN parses scheme://PUBLIC_KEY[:SECRET]@HOST[:PORT][/PATH]/PROJECT_ID.
func parseDSN(raw string) (dsn, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return dsn{}, errors.New("must look like https://PUBLIC_KEY@HOST/PROJECT_ID")
	}
	if u.User == nil || u.User.Username() == "" {
		return dsn{}, errors.New("lacks the public key before @ (https://PUBLIC_KEY@HOST/PROJECT_ID)")
	}
	path := strings.TrimSuffix(u.Path, "/")
	i := strings.LastIndexByte(path, '/')
	project := path[i+1:]
	if project == "" || strings.Trim(project, "0123456789") != "" {
		return dsn{}, errors.New("must end in a numeric project id (https://PUBLIC_KEY@HOST/PROJECT_ID)")
	}
	prefix := path[:i]
	key := u.User.Username()
	return dsn{
		endpoint:  fmt.Sprintf("%s://%s%s/api/%s/envelope/", u.Scheme, u.Host, prefix, project),
		publicKey: key,
		public:    fmt.Sprintf("%s://%s@%s%s/%s", u.Scheme, key, u.Host, prefix, project),
	}, nil
}

// Sentry delivers segments to a Sentry project as replay envelopes: a
// replay_event item and a replay_recording item holding the zlib-compressed
// rrweb events.
type Sentry struct {
	cfg     SentryConfig
	dsn     dsn
	client  *http.Client
	log     zerolog.Logger
	resp    responses
	version string
	now     func() time.Time
	// zlibs reuses compressors: a fresh one allocates about 1 MB.
	zlibs sync.Pool
}

// NewSentry returns a Sentry forwarder for cfg.DSN.
func NewSentry(cfg SentryConfig, log zerolog.Logger) (*Sentry, error) {
	d, err := parseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("sentry.dsn: %w", err)
	}
	return &Sentry{
		cfg:     cfg,
		dsn:     d,
		client:  newHTTPClient(cfg.Timeout),
		log:     log.With().Str("forwarder", "sentry").Logger(),
		version: clientVersion(),
		now:     time.Now,
		zlibs: sync.Pool{New: func() any {
			zw, _ := zlib.NewWriterLevel(nil, zlib.DefaultCompression)
			return zw
		}},
	}, nil
}

// MaxInFlight implements spool.InFlightLimiter.
func (s *Sentry) MaxInFlight() int { return s.cfg.Concurrency }

// Name implements spool.Forwarder.
func (s *Sentry) Name() string { return "sentry" }

// Close releases idle connections.
func (s *Sentry) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// Forward implements spool.Forwarder.
func (s *Sentry) Forward(ctx context.Context, seg spool.Segment) error {
	seg, err := withEvents("sentry", seg)
	if err != nil {
		return err
	}
	body, err := s.envelope(seg)
	if err != nil {
		return spool.Permanent(fmt.Errorf("sentry: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.dsn.endpoint, bytes.NewReader(body))
	if err != nil {
		return spool.Permanent(fmt.Errorf("sentry: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-sentry-envelope")
	req.Header.Set("User-Agent", "replaygate/"+s.version)
	req.Header.Set("X-Sentry-Auth", fmt.Sprintf("Sentry sentry_version=7, sentry_key=%s, sentry_client=replaygate/%s", s.dsn.publicKey, s.version))
	resp, err := s.client.Do(req)
	if err != nil {
		return transportError("sentry", err)
	}
	s.resp.observe("sentry", resp.StatusCode)
	err = classify("sentry", resp, s.now())
	if err != nil {
		// Status only: response bodies may echo what was sent.
		s.log.Debug().Int("status", resp.StatusCode).Str("key", seg.Key()).Msg("destination refused segment")
	}
	return err
}

// rrwebEvent is the part of an rrweb event the replay_event summary needs.
// Only Meta events (type 4) carry data.href at the top of data.
type rrwebEvent struct {
	Type      int     `json:"type"`
	Timestamp float64 `json:"timestamp"`
	Data      struct {
		Href string `json:"href"`
	} `json:"data"`
}

// replayEvent is Sentry's replay_event item.
type replayEvent struct {
	Type                 string         `json:"type"`
	ReplayID             string         `json:"replay_id"`
	EventID              string         `json:"event_id"`
	SegmentID            int            `json:"segment_id"`
	Timestamp            float64        `json:"timestamp"`
	ReplayStartTimestamp float64        `json:"replay_start_timestamp"`
	URLs                 []string       `json:"urls"`
	ErrorIDs             []string       `json:"error_ids"`
	TraceIDs             []string       `json:"trace_ids"`
	ReplayType           string         `json:"replay_type"`
	Platform             string         `json:"platform"`
	Environment          string         `json:"environment,omitempty"`
	Release              string         `json:"release,omitempty"`
	SDK                  sdkInfo        `json:"sdk"`
	Contexts             map[string]any `json:"contexts"`
}

type sdkInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// envelope builds the envelope for seg, whose JSON is in Events
// (withEvents): header line, replay_event item, replay_recording item
// (`{"segment_id":N}\n` + zlib(events)).
func (s *Sentry) envelope(seg spool.Segment) ([]byte, error) {
	var events []rrwebEvent
	if err := json.Unmarshal(seg.Events, &events); err != nil {
		// An odd field type in one event only costs that event's summary;
		// json keeps decoding the rest.
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) || !bytes.HasPrefix(bytes.TrimSpace(seg.Events), []byte("[")) {
			return nil, fmt.Errorf("segment events are not an rrweb array: %w", err)
		}
	}
	first, last := math.Inf(1), math.Inf(-1)
	urls := []string{}
	for _, e := range events {
		first, last = math.Min(first, e.Timestamp), math.Max(last, e.Timestamp)
		if e.Type == 4 && e.Data.Href != "" { // Meta: the page the recorder was on
			urls = append(urls, e.Data.Href)
		}
	}
	received := float64(seg.ReceivedAt.UnixMilli())
	if len(events) == 0 || first <= 0 {
		first, last = received, received
	}
	sdk := sdkInfo{Name: "replaygate", Version: s.version}
	ev := replayEvent{
		Type:                 "replay_event",
		ReplayID:             seg.ReplayID,
		EventID:              seg.ReplayID,
		SegmentID:            seg.Seq,
		Timestamp:            last / 1000,
		ReplayStartTimestamp: first / 1000,
		URLs:                 urls,
		ErrorIDs:             []string{},
		TraceIDs:             []string{},
		ReplayType:           "session",
		Platform:             "javascript",
		Environment:          s.cfg.Environment,
		Release:              s.cfg.Release,
		SDK:                  sdk,
		Contexts:             map[string]any{"replay": map[string]any{"replay_id": seg.ReplayID}},
	}
	evJSON, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}

	var rec bytes.Buffer
	fmt.Fprintf(&rec, "{\"segment_id\":%d}\n", seg.Seq)
	zw := s.zlibs.Get().(*zlib.Writer)
	zw.Reset(&rec)
	_, err = zw.Write(seg.Events)
	if err == nil {
		err = zw.Close()
	}
	s.zlibs.Put(zw)
	if err != nil {
		return nil, err
	}
	if rec.Len() > maxSentryRecording {
		return nil, fmt.Errorf("recording of %d bytes compressed exceeds Sentry's %d", rec.Len(), maxSentryRecording)
	}

	header, err := json.Marshal(struct {
		EventID string  `json:"event_id"`
		SentAt  string  `json:"sent_at"`
		DSN     string  `json:"dsn"`
		SDK     sdkInfo `json:"sdk"`
	}{seg.ReplayID, s.now().UTC().Format("2006-01-02T15:04:05.000Z"), s.dsn.public, sdk})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(len(header) + len(evJSON) + rec.Len() + 128)
	out.Write(header)
	fmt.Fprintf(&out, "\n{\"type\":\"replay_event\",\"length\":%d}\n", len(evJSON))
	out.Write(evJSON)
	fmt.Fprintf(&out, "\n{\"type\":\"replay_recording\",\"length\":%d}\n", rec.Len())
	out.Write(rec.Bytes())
	out.WriteByte('\n')
	return out.Bytes(), nil
}
