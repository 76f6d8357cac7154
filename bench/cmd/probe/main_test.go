package main

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestProbe(t *testing.T) {
	const orig = "<!doctype html><html><head><title>t</title></head><body>x</body></html>"
	tag := `<script src="/__replay/gate.js" async nonce="abc"></script>`
	inject := func(s string) string { return strings.Replace(s, "<head>", "<head>"+tag, 1) }
	bodies := map[string]string{
		"/orig":    orig,
		"/inject":  inject(orig),
		"/twice":   strings.Replace(inject(orig), "</head>", tag+"</head>", 1),
		"/changed": inject(strings.Replace(orig, "x", "y", 1)),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := bodies[r.URL.Path]
		if r.Header.Get("Accept-Encoding") == "gzip" {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write([]byte(body))
			zw.Close()
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(buf.Bytes())
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	tests := []struct {
		path   string
		tags   int
		intact bool
	}{
		{"/orig", 0, true},
		{"/inject", 1, true},
		{"/twice", 2, false},
		{"/changed", 1, false},
	}
	for _, tt := range tests {
		for _, ae := range []string{"identity", "gzip"} {
			r := probe(srv.URL+tt.path, srv.URL+"/orig", "text/html", ae)
			if r.Error != "" || r.TagCount != tt.tags || r.Intact != tt.intact {
				t.Errorf("%s %s: %+v, want %d tags, intact %v", tt.path, ae, r, tt.tags, tt.intact)
			}
		}
	}
}
