package forward

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/replaygate/replaygate/spool"
)

// testSeg returns a realistic small segment: a Meta event with the page
// URL, a full snapshot and a mutation.
func testSeg(seq int) spool.Segment {
	return spool.Segment{
		ReplayID:   "0123456789abcdef0123456789abcdef",
		Seq:        seq,
		Subject:    "subj-1",
		ReceivedAt: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC),
		Events: json.RawMessage(fmt.Sprintf(`[{"type":4,"timestamp":1764331200000,"data":{"href":"https://shop.example/cart","width":1280,"height":720}},`+
			`{"type":2,"timestamp":1764331200100,"data":{"node":{"type":0,"childNodes":[],"id":1}}},`+
			`{"type":3,"timestamp":1764331201%03d,"data":{"source":0,"texts":[{"id":5,"value":"****"}]}}]`, seq)),
	}
}

// envelopeItem is one parsed item of a Sentry envelope.
type envelopeItem struct {
	header  map[string]any
	payload []byte
}

// parseEnvelope parses a Sentry envelope strictly: a JSON header line, then
// items each with a JSON header line whose "length" (when present) is the
// exact payload size, each payload followed by "\n" or the end of input.
func parseEnvelope(t *testing.T, body []byte) (map[string]any, []envelopeItem) {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(body))
	line, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("envelope header line: %v", err)
	}
	var header map[string]any
	if err := json.Unmarshal(line, &header); err != nil {
		t.Fatalf("envelope header not JSON: %v", err)
	}
	var items []envelopeItem
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			return header, items
		}
		if err != nil {
			t.Fatalf("item header: %v", err)
		}
		var ih map[string]any
		if err := json.Unmarshal(line, &ih); err != nil {
			t.Fatalf("item header not JSON: %q", line)
		}
		length, ok := ih["length"].(float64)
		if !ok {
			t.Fatalf("item %v without length", ih["type"])
		}
		payload := make([]byte, int(length))
		if _, err := io.ReadFull(r, payload); err != nil {
			t.Fatalf("item %v shorter than its length %d", ih["type"], int(length))
		}
		if b, err := r.ReadByte(); err == nil && b != '\n' {
			t.Fatalf("item %v: length %d is not exact (next byte %q)", ih["type"], int(length), b)
		}
		items = append(items, envelopeItem{header: ih, payload: payload})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
