package forward

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
)

// gzipped returns seg as ingest spools it: its events as one gzip member
// in Gzip, no Events.
func gzipped(t *testing.T, seg spool.Segment) spool.Segment {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, 1)
	zw.Write(seg.Events)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	seg.Gzip, seg.Events = buf.Bytes(), nil
	return seg
}

// bodyRecorder keeps the raw body of every request and answers 204.
type bodyRecorder struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (b *bodyRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.bodies = append(b.bodies, body)
	b.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// TestGzipSegmentSamePayload: each forwarder sends exactly the same bytes
// for a segment spooled compressed (Gzip, as ingest spools it) as for the
// same segment with its JSON in Events.
func TestGzipSegmentSamePayload(t *testing.T) {
	clock := func() time.Time { return time.Date(2026, 11, 28, 12, 0, 1, 0, time.UTC) }
	plain := testSeg(4)
	packed := gzipped(t, plain)
	httpForwarder := func(t *testing.T, url string) spool.Forwarder {
		cfg := DefaultConfig().HTTP
		cfg.URL, cfg.Secret = url, testSecret
		h := NewHTTPCollector(cfg, zerolog.Nop())
		h.now = clock
		return h
	}
	sentryForwarder := func(t *testing.T, url string) spool.Forwarder {
		cfg := DefaultConfig().Sentry
		cfg.DSN = strings.Replace(url, "http://", "http://pubkey:secretkey@", 1) + "/42"
		s, err := NewSentry(cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		s.now = clock
		return s
	}
	for name, build := range map[string]func(*testing.T, string) spool.Forwarder{"http": httpForwarder, "sentry": sentryForwarder} {
		t.Run(name, func(t *testing.T) {
			rec := &bodyRecorder{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			f := build(t, srv.URL)
			for _, seg := range []spool.Segment{plain, packed} {
				if err := f.Forward(context.Background(), seg); err != nil {
					t.Fatal(err)
				}
			}
			if len(rec.bodies) != 2 || len(rec.bodies[0]) == 0 {
				t.Fatalf("%d requests", len(rec.bodies))
			}
			if !bytes.Equal(rec.bodies[0], rec.bodies[1]) {
				t.Fatalf("payloads differ:\n events %q\n gzip   %q", rec.bodies[0], rec.bodies[1])
			}
		})
	}
	t.Run("nats", func(t *testing.T) {
		ns := startNATS(t)
		ctx := context.Background()
		var data [][]byte
		for i, seg := range []spool.Segment{plain, packed} {
			cfg := natsConfig(ns.ClientURL())
			cfg.Stream, cfg.Subject = "S"+string(rune('A'+i)), "s"+string(rune('a'+i))+".segments"
			n, err := NewNATS(cfg, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if err := n.Forward(ctx, seg); err != nil {
				t.Fatal(err)
			}
			nc, err := nats.Connect(ns.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			st, err := js.Stream(ctx, cfg.Stream)
			if err != nil {
				t.Fatal(err)
			}
			m, err := st.GetMsg(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			data = append(data, m.Data)
		}
		if len(data[0]) == 0 || !bytes.Equal(data[0], data[1]) {
			t.Fatalf("messages differ:\n events %q\n gzip   %q", data[0], data[1])
		}
	})
}

// TestCorruptGzipSegmentIsPermanent: a gzip member that does not
// decompress is refused before anything is sent, as a permanent error.
func TestCorruptGzipSegmentIsPermanent(t *testing.T) {
	rec := &bodyRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	bad := gzipped(t, testSeg(1))
	bad.Gzip = bad.Gzip[:len(bad.Gzip)-12]
	cfg := DefaultConfig().HTTP
	cfg.URL, cfg.Secret = srv.URL, testSecret
	sentryCfg := DefaultConfig().Sentry
	sentryCfg.DSN = strings.Replace(srv.URL, "http://", "http://pubkey:secretkey@", 1) + "/42"
	s, err := NewSentry(sentryCfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []spool.Forwarder{NewHTTPCollector(cfg, zerolog.Nop()), s} {
		if err := f.Forward(context.Background(), bad); !spool.IsPermanent(err) {
			t.Errorf("%s: Forward = %v, want a permanent error", f.Name(), err)
		}
	}
	if len(rec.bodies) != 0 {
		t.Fatalf("%d requests sent for a corrupt segment", len(rec.bodies))
	}
}
