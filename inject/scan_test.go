package inject

import (
	"bytes"
	"strings"
	"testing"
)

const mark = "<M>"

// scanCases: want holds "|" where the markup goes; a want without "|"
// means the document must pass through unchanged.
var scanCases = []struct {
	name, in, want string
	xml            bool
}{
	{name: "simple", in: `<!DOCTYPE html><html><head><title>x</title></head><body></body></html>`,
		want: `<!DOCTYPE html><html><head>|<title>x</title></head><body></body></html>`},
	{name: "upper case", in: `<!DOCTYPE HTML><HTML><HEAD><TITLE>x</TITLE></HEAD>`, want: `<!DOCTYPE HTML><HTML><HEAD>|<TITLE>x</TITLE></HEAD>`},
	{name: "mixed case", in: `<Html><hEaD>x`, want: `<Html><hEaD>|x`},
	{name: "head attributes with >", in: `<html><head lang="a>b" data-x='>' id=c>t`, want: `<html><head lang="a>b" data-x='>' id=c>|t`},
	{name: "head attr newlines", in: "<html><head\n\tclass=x\n>", want: "<html><head\n\tclass=x\n>|"},
	{name: "self-closing head", in: `<head/><body>`, want: `<head/>|<body>`},
	{name: "comment with head", in: `<!-- <head> --><html><head>`, want: `<!-- <head> --><html><head>|`},
	{name: "abrupt comment", in: `<!--><head>`, want: `<!--><head>|`},
	{name: "abrupt comment dash", in: `<!---><head>`, want: `<!---><head>|`},
	{name: "comment bang end", in: `<!-- x --!><head>`, want: `<!-- x --!><head>|`},
	{name: "comment dashes", in: `<!-- a -- b ---><head>`, want: `<!-- a -- b ---><head>|`},
	{name: "comment not ended by --!x", in: `<!-- --!x <head> --><head>`, want: `<!-- --!x <head> --><head>|`},
	{name: "script with head", in: `<html><script>document.write("<head>")</script><head>x`,
		want: `<html><script>document.write("<head>")</script><head>|x`},
	{name: "script end tag case and space", in: `<script>a</SCRIPT ><head>`, want: `<script>a</SCRIPT ><head>|`},
	{name: "script not ended by scriptx", in: `<script>a</scriptx><head></script><head>`, want: `<script>a</scriptx><head></script><head>|`},
	{name: "script double escaped", in: `<script><!--<script></script><head>--></script><head>`,
		want: `<script><!--<script></script><head>--></script><head>|`},
	{name: "script escaped end", in: `<script><!--</script><head>`, want: `<script><!--</script><head>|`},
	{name: "script end tag attrs with >", in: `<script>x</script a=">"><head>`, want: `<script>x</script a=">"><head>|`},
	{name: "unterminated script", in: `<script><head>`, want: `<script><head>`},
	{name: "style with head", in: `<style>/*<head>*/</style><head>`, want: `<style>/*<head>*/</style><head>|`},
	{name: "title with head", in: `<title><head></title><head>`, want: `<title><head></title><head>|`},
	{name: "noscript with head", in: `<noscript><head></noscript><head>`, want: `<noscript><head></noscript><head>|`},
	{name: "textarea is body", in: `<textarea><head></textarea>`, want: `|<textarea><head></textarea>`},
	{name: "no head: before body", in: `<!doctype html><html><title>x</title><body>hi`, want: `<!doctype html><html><title>x</title>|<body>hi`},
	{name: "no head: before div", in: `<html><meta charset=utf-8><link rel=x href=y><div>`, want: `<html><meta charset=utf-8><link rel=x href=y>|<div>`},
	{name: "no head: end head", in: `<html><title>t</title></head><body>`, want: `<html><title>t</title>|</head><body>`},
	{name: "headx is body", in: `<headx><head>`, want: `|<headx><head>`},
	{name: "header is body", in: `<html><header>x</header>`, want: `<html>|<header>x</header>`},
	{name: "long tag name", in: `<abcdefghijklmnop><head>`, want: `|<abcdefghijklmnop><head>`},
	{name: "text starts body", in: "<!doctype html>\n  hello", want: "<!doctype html>\n  |hello"},
	{name: "text only", in: `hello`, want: `|hello`},
	{name: "lone lt is text", in: `<<head>`, want: `|<<head>`},
	{name: "space after lt is text", in: `< head>`, want: `|< head>`},
	{name: "meta unquoted then text", in: `<meta content=a>b><head>`, want: `<meta content=a>|b><head>`},
	{name: "meta quoted gt", in: `<meta content="a>b"><head>`, want: `<meta content="a>b"><head>|`},
	{name: "body attr quote", in: `<a b='>'>`, want: `|<a b='>'>`},
	{name: "doctype with ids", in: `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd"><html><head>`,
		want: `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd"><html><head>|`},
	{name: "bom", in: "\xEF\xBB\xBF<!doctype html><head>", want: "\xEF\xBB\xBF<!doctype html><head>|"},
	{name: "bom then text", in: "\xEF\xBB\xBFhello", want: "\xEF\xBB\xBF|hello"},
	{name: "broken bom", in: "\xEF\xBBx<head>", want: "|\xEF\xBBx<head>"},
	{name: "utf-16 bom", in: "\xFF\xFE<\x00h\x00", want: "\xFF\xFE<\x00h\x00"},
	{name: "nul", in: "<html>\x00<head>", want: "<html>\x00<head>"},
	{name: "empty", in: ``, want: ``},
	{name: "whitespace only", in: " \n\t", want: " \n\t"},
	{name: "doctype only", in: `<!doctype html>`, want: `<!doctype html>`},
	{name: "never twice", in: `<head><head><body>`, want: `<head>|<head><body>`},
	{name: "php-like pi", in: `<?php echo "<head>" ?><head>`, want: `<?php echo "<head>|" ?><head>`},
	{name: "html cdata is bogus comment", in: `<![CDATA[x]]><head>`, want: `<![CDATA[x]]><head>|`},
	{name: "template content is inert", in: `<template><div></div><head></template><head>`, want: `<template><div></div><head></template><head>|`},
	{name: "nested template", in: `<template><template></template><p></template><p>`, want: `<template><template></template><p></template>|<p>`},
	{name: "template text", in: `<template>text</template>x`, want: `<template>text</template>|x`},
	{name: "empty end tag ignored", in: `</><head>`, want: `</><head>|`},
	{name: "bogus end tag", in: `</ x><head>`, want: `</ x><head>|`},
	{name: "other end tag ignored", in: `</p><head>`, want: `</p><head>|`},
	{name: "slash in unquoted value", in: `<link href=/a/><head>`, want: `<link href=/a/><head>|`},
	{name: "base and link", in: `<base href=x/><link rel=stylesheet href=a.css><head>`, want: `<base href=x/><link rel=stylesheet href=a.css><head>|`},
	{name: "svg is body", in: `<html><svg><![CDATA[<head>]]></svg>`, want: `<html>|<svg><![CDATA[<head>]]></svg>`},

	{name: "xhtml", xml: true, in: `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head>`,
		want: `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head>|<title>x</title></head>`},
	{name: "xhtml pi with gt", xml: true, in: `<?xml-stylesheet href="a>b"?><html><head>`, want: `<?xml-stylesheet href="a>b"?><html><head>|`},
	{name: "xhtml cdata", xml: true, in: `<html><![CDATA[ <head> ]]><head>`, want: `<html><![CDATA[ <head> ]]><head>|`},
	{name: "xhtml self-closing script", xml: true, in: `<html><script src="a"/><head>`, want: `<html><script src="a"/><head>|`},
	{name: "xhtml no head", xml: true, in: `<html><body>`, want: `<html>|<body>`},
	{name: "xhtml body root", xml: true, in: `<body><p>x</p></body>`, want: `<body><p>x</p></body>`},
	{name: "xhtml text before root", xml: true, in: `x<html>`, want: `x<html>`},
}

func expected(in, want string) (string, bool) {
	i := strings.IndexByte(want, '|')
	if i < 0 || strings.Contains(in, "|") {
		return in, false
	}
	return want[:i] + mark + want[i+1:], true
}

func TestScanTable(t *testing.T) {
	c := testCodecs(t)
	for _, tc := range scanCases {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := expected(tc.in, tc.want)
			if strings.ReplaceAll(tc.want, "|", "") != tc.in {
				t.Fatalf("bad case: want without | differs from in")
			}
			got, _ := runStream(t, c, encIdentity, tc.xml, []byte(tc.in), nil, []byte(mark))
			if string(got) != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

// TestScanEverySplit cuts every case at every offset (and byte by byte):
// the result must not depend on where reads end.
func TestScanEverySplit(t *testing.T) {
	c := testCodecs(t)
	for _, tc := range scanCases {
		want, _ := expected(tc.in, tc.want)
		for k := 0; k <= len(tc.in); k++ {
			got, _ := runStream(t, c, encIdentity, tc.xml, []byte(tc.in), []int{k, len(tc.in)}, []byte(mark))
			if string(got) != want {
				t.Errorf("%s split at %d:\ngot  %q\nwant %q", tc.name, k, got, want)
			}
		}
		got, _ := runStream(t, c, encIdentity, tc.xml, []byte(tc.in), []int{1}, []byte(mark))
		if string(got) != want {
			t.Errorf("%s byte by byte:\ngot  %q\nwant %q", tc.name, got, want)
		}
	}
}

// TestScanEverySplitEncoded does the same through every encoding, with
// the compressed input cut at every offset.
func TestScanEverySplitEncoded(t *testing.T) {
	for _, lowMem := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.LowMemory = lowMem
		c, err := newCodecs(cfg)
		if err != nil {
			t.Fatal(err)
		}
		everySplitEncoded(t, c)
	}
}

func everySplitEncoded(t *testing.T, c *codecs) {
	doc := `<!DOCTYPE html><!-- <head> --><html lang="en"><head data-x="a>b"><title>t</title></head><body>` +
		strings.Repeat("<p>hello</p>", 50) + `</body></html>`
	want := strings.Replace(doc, `"a>b">`, `"a>b">`+mark, 1)
	for _, e := range []encoding{encGzip, encDeflate, encBrotli} {
		for _, raw := range []bool{false, true} {
			if raw && e != encDeflate {
				continue
			}
			body := encodeBytes(t, e, raw, []byte(doc))
			for k := 0; k <= len(body); k++ {
				out, s := runStream(t, c, e, false, body, []int{k, len(body)}, []byte(mark))
				if got := decodeBytes(t, e, out); string(got) != want {
					t.Fatalf("%v raw=%v split %d: got %q", e, raw, k, got)
				}
				if s.dec.raw != raw && s.phase != phEOF {
					t.Fatalf("%v: raw deflate detection", e)
				}
				if raw && isZlibHeader(out[0], out[1]) {
					t.Fatalf("raw deflate in, zlib out")
				}
			}
		}
	}
}

func TestScanHoldIsBounded(t *testing.T) {
	// A long tag name or BOM never makes the scanner hold more than a few bytes.
	var sc scanner
	in := []byte("<html><" + strings.Repeat("x", 100))
	v, _ := sc.scan(in[:20])
	if v != found {
		t.Fatalf("verdict %v, want found after %d name bytes", v, maxName+1)
	}
	sc = newScanner(false)
	sc.scan([]byte("<html><hea"))
	if got := sc.off - sc.safe(); got != 4 {
		t.Fatalf("held %d bytes, want 4", got)
	}
	if !bytes.Equal([]byte("x"), []byte("x")) {
		t.Fatal()
	}
}
