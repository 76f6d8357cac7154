package forward

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// benchSeg is a ~20 KB segment of mutation events, the typical upload.
func benchSeg() []byte {
	var b strings.Builder
	b.WriteString(`[{"type":4,"timestamp":1764331200000,"data":{"href":"https://shop.example/","width":1280,"height":720}}`)
	for i := 0; b.Len() < 20000; i++ {
		fmt.Fprintf(&b, `,{"type":3,"timestamp":%d,"data":{"source":0,"adds":[{"parentId":%d,"node":{"type":3,"textContent":"******* ***** %d","id":%d}}],"removes":[],"texts":[],"attributes":[{"id":%d,"attributes":{"class":"item item-%d"}}]}}`,
			1764331200000+i*16, i, i, 1000+i, i, i%7)
	}
	b.WriteString("]")
	return []byte(b.String())
}

func BenchmarkSentryEnvelope(b *testing.B) {
	s, err := NewSentry(SentryConfig{DSN: "https://k@h/1", Timeout: 1}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	seg := testSeg(1)
	seg.Events = json.RawMessage(benchSeg())
	b.SetBytes(int64(len(seg.Events)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.envelope(seg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHTTPCollectorForward(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	h := NewHTTPCollector(HTTPConfig{URL: srv.URL, Secret: testSecret, Timeout: 5e9}, zerolog.Nop())
	seg := testSeg(1)
	seg.Events = json.RawMessage(benchSeg())
	b.SetBytes(int64(len(seg.Events)))
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Forward(context.Background(), seg); err != nil {
			b.Fatal(err)
		}
	}
}
