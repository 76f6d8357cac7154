// Command probe fetches one URL the way a benchmark scenario does and
// reports, as one JSON line, what came back: status, Content-Encoding, bytes
// on the wire, decoded bytes, how many times the gate tag appears, and
// whether the decoded body equals the origin's body apart from exactly one
// inserted gate tag (or equals it unchanged, for passthrough).
package main

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"time"

	"github.com/andybalholm/brotli"
)

// Result is the probe's JSON line.
type Result struct {
	Status       int    `json:"status"`
	Encoding     string `json:"encoding"`
	WireBytes    int    `json:"wire_bytes"`
	DecodedBytes int    `json:"decoded_bytes"`
	TagCount     int    `json:"tag_count"`
	// Intact is true when the decoded body equals the original, or the
	// original with one gate tag inserted and nothing else changed.
	Intact bool   `json:"intact"`
	ETag   string `json:"etag,omitempty"`
	Error  string `json:"error,omitempty"`
}

// gateTag matches the injected gate script element, whatever its
// attributes (nonce, async, defer) and the prefix.
var gateTag = regexp.MustCompile(`<script[^>]*src="[^"]*/gate[^"/]*\.js"[^>]*>\s*</script>`)

func main() {
	url := flag.String("url", "", "URL to fetch")
	original := flag.String("original", "", "URL of the original body (fetched with identity encoding)")
	acceptEnc := flag.String("accept-encoding", "gzip", "Accept-Encoding request header")
	accept := flag.String("accept", "text/html,application/xhtml+xml,*/*;q=0.8", "Accept request header")
	flag.Parse()
	res := probe(*url, *original, *accept, *acceptEnc)
	json.NewEncoder(os.Stdout).Encode(res)
}

func probe(url, original, accept, acceptEnc string) Result {
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableCompression: true, Proxy: nil}}
	var res Result
	wire, hdr, status, err := fetch(client, url, accept, acceptEnc)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Status, res.WireBytes, res.Encoding, res.ETag = status, len(wire), hdr.Get("Content-Encoding"), hdr.Get("ETag")
	body, err := decode(res.Encoding, wire)
	if err != nil {
		res.Error = "decode " + res.Encoding + ": " + err.Error()
		return res
	}
	res.DecodedBytes = len(body)
	res.TagCount = len(gateTag.FindAllIndex(body, -1))
	if original == "" {
		return res
	}
	orig, _, _, err := fetch(client, original, accept, "identity")
	if err != nil {
		res.Error = "original: " + err.Error()
		return res
	}
	switch res.TagCount {
	case 0:
		res.Intact = bytes.Equal(body, orig)
	case 1:
		loc := gateTag.FindIndex(body)
		stripped := append(append([]byte{}, body[:loc[0]]...), body[loc[1]:]...)
		res.Intact = bytes.Equal(stripped, orig)
	}
	return res
}

func fetch(c *http.Client, url, accept, acceptEnc string) ([]byte, http.Header, int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	req.Header.Set("Accept-Encoding", acceptEnc)
	req.Header.Set("Accept", accept)
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.Header, resp.StatusCode, err
}

func decode(enc string, b []byte) ([]byte, error) {
	var r io.Reader
	switch enc {
	case "", "identity":
		return b, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		r = zr
	default:
		return nil, fmt.Errorf("unsupported encoding %q", enc)
	}
	return io.ReadAll(r)
}
