package scrub

import "testing"

// FuzzDifferential compares the hand-written detectors with the regular
// expressions of the reference on arbitrary strings.
func FuzzDifferential(f *testing.F) {
	for _, l := range readCorpus(f, "testdata/truepositives.txt") {
		f.Add(l.text)
	}
	for _, l := range readCorpus(f, "testdata/lookalikes.txt") {
		f.Add(l.text)
	}
	sc, err := New(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	ref := newReference(sc)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := sc.ScrubString(s), ref.scrubString(s); got != want {
			t.Fatalf("%q: scanner %q, reference %q", s, got, want)
		}
	})
}
