package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"testing"
)

func TestSegment(t *testing.T) {
	tests := []struct {
		name             string
		snapshot         bool
		jsonSize, gzSize int
	}{
		{"first json 20k", true, 20 << 10, 0},
		{"later json 20k", false, 20 << 10, 0},
		{"gzip 20k", false, 0, 20 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, gz, err := newSegmentGen(1).segment(tt.snapshot, tt.jsonSize, tt.gzSize)
			if err != nil {
				t.Fatal(err)
			}
			var events []struct {
				Type      *int   `json:"type"`
				Timestamp *int64 `json:"timestamp"`
			}
			if err := json.Unmarshal(raw, &events); err != nil {
				t.Fatalf("not a JSON array: %v", err)
			}
			for i, e := range events {
				if e.Type == nil || e.Timestamp == nil {
					t.Fatalf("event %d lacks type or timestamp", i)
				}
			}
			if got := *events[0].Type == evMeta; got != tt.snapshot {
				t.Errorf("starts with Meta = %v, want %v", got, tt.snapshot)
			}
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				t.Fatal(err)
			}
			back, _ := io.ReadAll(zr)
			if !bytes.Equal(back, raw) {
				t.Error("gzip body does not decode to the JSON")
			}
			if tt.jsonSize > 0 && (len(raw) < tt.jsonSize || len(raw) > tt.jsonSize*11/10) {
				t.Errorf("json %d bytes, want %d..+10%%", len(raw), tt.jsonSize)
			}
			if tt.gzSize > 0 && (len(gz) < tt.gzSize || len(gz) > tt.gzSize*12/10) {
				t.Errorf("gzip %d bytes, want %d..+20%%", len(gz), tt.gzSize)
			}
			t.Logf("json %d, gzip %d (%.0f%%)", len(raw), len(gz), 100*float64(len(gz))/float64(len(raw)))
		})
	}
}
