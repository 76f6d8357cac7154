package scrub

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzScrub checks that Scrub never panics, agrees with encoding/json on
// syntax, always writes valid JSON and is idempotent.
func FuzzScrub(f *testing.F) {
	for _, s := range []string{
		`[]`,
		`[{"type":4,"data":{"href":"https://u:p@x.example/?token=abc"},"timestamp":1}]`,
		`[{"type":5,"timestamp":1,"data":{"t":"a\u0040b.io \ud83d\ude00 4111 1111 1111 1111","password":12}}]`,
		`[{"type":3,"timestamp":1,"data":{"x":"Bearer abcdefgh12345678 AKIAIOSFODNN7EXAMPLE ::1 10.0.0.1 DE89370400440532013000"}}]`,
		`[{"type":3,"timestamp":1,"data":{"x":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY----- 123-45-6789"}}]`,
		`[{"type":2,"timestamp":1,"data":{"node":{"attributes":{"value":"a@b.io x","class":"c","name":"csrf_token"},"x":{"type":"hidden","value":"v"}}}}]`,
		`[{"type":5,"timestamp":1,"data":{"tag":"t","payload":{"name":"password","value":"hunter2 a@b.io","x":1}}},{"type":3,"timestamp":2,"data":{"source":2,"type":2}}]`,
		`[{"type":5,"timestamp":1,"data":{"tag":"t","payload":{"value":"hunter2 a@b.io","name":"password"}}},{"type":4,"timestamp":2,"data":{"href":"https://x/?token=1"}}]`,
	} {
		f.Add([]byte(s))
	}
	sc, err := New(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.HashKey = "0123456789abcdef"
	for _, d := range cfg.Detectors.builtin() {
		d.Method = Remove
	}
	cfg.Detectors.Email.Method = Hash
	cfg.Detectors.CreditCard.Method = Replace
	alt, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, s := range []*Scanner{sc, alt} {
			out, first, err := s.Scrub(nil, src)
			if err != nil {
				var ie *InputError
				if !errors.As(err, &ie) {
					t.Fatalf("error %v is not an *InputError", err)
				}
				continue
			}
			if !json.Valid(src) || !utf8.Valid(src) {
				t.Fatalf("accepted input encoding/json rejects: %q", src)
			}
			if !json.Valid(out) || !utf8.Valid(out) {
				t.Fatalf("invalid output %q for %q", out, src)
			}
			checkInfo(t, out, first.Info)
			again, res, err := s.Scrub(nil, out)
			if err != nil {
				t.Fatalf("output rejected: %v\nin  %q\nout %q", err, src, out)
			}
			if !bytes.Equal(again, out) {
				t.Fatalf("not idempotent:\nin    %q\nonce  %q\ntwice %q (hits %v)", src, out, again, res.Hits)
			}
		}
	})
}

// FuzzScrubString checks ScrubString on arbitrary text: idempotent and
// never growing invalid UTF-8 out of valid input.
func FuzzScrubString(f *testing.F) {
	for _, s := range []string{"a@b.io", "4111-1111-1111-1111", "x?token=1&b=2", "Bearer abc.def-123456", "2001:db8::1", "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"} {
		f.Add(s)
	}
	sc, err := New(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := sc.ScrubString(s)
		if twice := sc.ScrubString(once); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, once, twice)
		}
		if utf8.ValidString(s) && !utf8.ValidString(once) {
			t.Fatalf("invalid UTF-8 out of %q: %q", s, once)
		}
	})
}

// checkInfo: the Info spans are exactly the output's events of type 4 and
// 5, in order.
func checkInfo(t *testing.T, out []byte, info []Span) {
	t.Helper()
	var evs []json.RawMessage
	if err := json.Unmarshal(out, &evs); err != nil {
		t.Fatal(err)
	}
	var want []json.RawMessage
	for _, e := range evs {
		var members map[string]json.RawMessage // exact key match, unlike struct fields
		var typ float64
		if json.Unmarshal(e, &members) == nil && json.Unmarshal(members["type"], &typ) == nil && (typ == 4 || typ == 5) {
			want = append(want, e)
		}
	}
	if len(info) != len(want) {
		t.Fatalf("%d Info spans for %d Meta and custom events in %q", len(info), len(want), out)
	}
	for i, sp := range info {
		if sp.Start < 0 || sp.End > len(out) || sp.Start >= sp.End || !bytes.Equal(out[sp.Start:sp.End], want[i]) {
			t.Fatalf("Info span %v is not event %q of %q", sp, want[i], out)
		}
	}
}
