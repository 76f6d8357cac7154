package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// summarizeReference is the encoding/json version of summarize: slower, and
// the reference the differential tests compare it with. It reads a JSON array of rrweb events and returns its summary.
// Fields of unexpected types are ignored: only a JSON syntax error or a
// non-array fails.
func summarizeReference(events []byte) (segmentSummary, error) {
	var sum segmentSummary
	dec := json.NewDecoder(bytes.NewReader(events))
	tok, err := dec.Token()
	if err != nil {
		return sum, fmt.Errorf("summarize: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return sum, errNotArray
	}
	for dec.More() {
		var ev eventHead
		if err := dec.Decode(&ev); err != nil {
			var typeErr *json.UnmarshalTypeError
			if !errors.As(err, &typeErr) {
				return sum, fmt.Errorf("summarize: event %d: %w", sum.Events, err)
			}
		}
		sum.Events++
		sum.add(&ev)
	}
	if _, err := dec.Token(); err != nil {
		return sum, fmt.Errorf("summarize: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return sum, errors.New("summarize: data after the event array")
	}
	return sum, nil
}
