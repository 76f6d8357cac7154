package demo

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPages(t *testing.T) {
	srv := httptest.NewServer(New())
	defer srv.Close()
	tests := []struct {
		path, want string
	}{
		{"/", "Bestsellers"},
		{"/products/2", "Summit Down Jacket"},
		{"/signup", `autocomplete="cc-number"`},
		{"/search?q=tent", "Basecamp 2P Tent"},
		{"/account", "Erika Mustermann"},
		{"/live", `id="stock"`},
		{"/privacy", "Privacy notice"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("status %d encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
			}
			csp := resp.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "'strict-dynamic'") {
				t.Errorf("CSP %q", csp)
			}
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(zr)
			if !strings.Contains(string(b), tt.want) {
				t.Errorf("page lacks %q", tt.want)
			}
			nonce := strings.TrimSuffix(strings.SplitN(strings.SplitN(csp, "'nonce-", 2)[1], "'", 2)[0], "'")
			if !strings.Contains(string(b), `nonce="`+nonce+`"`) {
				t.Errorf("script nonce does not match CSP")
			}
		})
	}
	for _, p := range []string{"/products/99", "/img/0.svg"} {
		resp, _ := http.Get(srv.URL + p)
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	resp, _ := http.Get(srv.URL + "/api/stock")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"left":`) {
		t.Errorf("stock %s", b)
	}
}
