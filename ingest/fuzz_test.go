package ingest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"
)

type allowAll struct{}

func (allowAll) Verify(*http.Request) (string, bool) { return "0123456789abcdef0123456789abcdef", true }

// FuzzUpload sends arbitrary bodies, encodings, content types and queries
// through the handler past the consent and origin checks: it never panics,
// answers only with the documented statuses, and spools only valid JSON
// within the decoded limit.
func FuzzUpload(f *testing.F) {
	f.Add([]byte(events), "", "application/json", "replay="+replayID+"&seq=0")
	f.Add(gz(f, []byte(events)), "gzip", "text/plain", "replay="+replayID+"&seq=99")
	f.Add(gz(f, make([]byte, 40000)), "gzip", "application/json", "replay="+replayID+"&seq=1")
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, "", "application/json", "replay="+replayID+"&seq=1")
	f.Add([]byte("[[[[[[[[[["), "identity", "application/json; charset=utf-8", "seq=1&replay="+replayID)
	sc := newScanner(f)
	f.Fuzz(func(t *testing.T, body []byte, encoding, ctype, query string) {
		sp := &memSpool{}
		cfg := DefaultConfig()
		cfg.MaxBodyBytes, cfg.MaxDecodedBytes = 4096, 16384
		cfg.SubjectRate, cfg.OverallRate = 0, 0
		h, err := New(cfg, Deps{Consent: allowAll{}, Scrubber: sc, Spool: sp,
			SameOrigin: func(*http.Request) bool { return true }}, zerolog.Nop(), nil)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/__replay/ingest", bytes.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", ctype)
		r.Header.Set("Content-Encoding", encoding)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 202:
			segs := sp.all()
			if len(segs) != 1 {
				t.Fatalf("accepted but spooled %d segments", len(segs))
			}
			if js := eventsOf(t, segs[0]); len(js) > int(cfg.MaxDecodedBytes) || !json.Valid(js) {
				t.Fatalf("accepted but spooled %d bytes of invalid events", len(js))
			}
		case 400, 413, 415:
			if len(sp.all()) != 0 {
				t.Fatal("refused upload spooled")
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("error body not JSON: %q", w.Body.Bytes())
			}
		default:
			t.Fatalf("unexpected status %d", w.Code)
		}
	})
}
