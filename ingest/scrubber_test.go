package ingest

import "github.com/replaygate/replaygate/policy/scrub"

// failScrubber fails with err: an internal scrubber failure.
type failScrubber struct{ err error }

func (s failScrubber) Scrub(dst, _ []byte) ([]byte, scrub.Result, error) {
	return dst, scrub.Result{}, s.err
}

// passScrubber copies its input: the benchmark's stand-in when measuring the
// handler without the scrubber's cost.
type passScrubber struct{}

func (passScrubber) Scrub(dst, src []byte) ([]byte, scrub.Result, error) {
	return append(dst, src...), scrub.Result{}, nil
}
