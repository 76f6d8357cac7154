package inject

import (
	"mime"
	"testing"
)

// htmlTypeReference is htmlType without its shortcuts.
func htmlTypeReference(v string) (string, string, bool) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || (mt != "text/html" && mt != "application/xhtml+xml") {
		return "", "", false
	}
	return mt, params["charset"], true
}

var htmlTypeSeeds = []string{
	"text/html", "TEXT/HTML", "Text/Html", "text/html; charset=utf-8", "text/html;charset=UTF-8",
	"text/html; charset=\"utf-8\"", "text/html; charset=utf-16", "text/html ; charset=iso-2022-jp",
	"application/xhtml+xml", "application/xhtml+xml; charset=utf-8", "text/plain", "text/htm", "text/html;",
	"text/html; charset", "", "text/html, text/plain", "text/html; charset=utf-8; charset=utf-16",
}

func TestHTMLType(t *testing.T) {
	for _, v := range htmlTypeSeeds {
		mt, cs, ok := htmlType(v)
		wmt, wcs, wok := htmlTypeReference(v)
		if mt != wmt || cs != wcs || ok != wok {
			t.Errorf("htmlType(%q) = %q, %q, %v; want %q, %q, %v", v, mt, cs, ok, wmt, wcs, wok)
		}
	}
}

// FuzzHTMLType: the shortcuts agree with parsing.
func FuzzHTMLType(f *testing.F) {
	for _, v := range htmlTypeSeeds {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		mt, cs, ok := htmlType(v)
		wmt, wcs, wok := htmlTypeReference(v)
		if mt != wmt || cs != wcs || ok != wok {
			t.Fatalf("htmlType(%q) = %q, %q, %v; want %q, %q, %v", v, mt, cs, ok, wmt, wcs, wok)
		}
	})
}
