package forward

import (
	"fmt"

	"github.com/replaygate/replaygate/spool"
)

// withEvents returns seg with its scrubbed JSON array in Events and no
// Gzip: every destination takes the JSON, and ingest spools it compressed
// (spool.Segment.Gzip). A member that does not decompress never will, so
// the error is permanent.
func withEvents(name string, seg spool.Segment) (spool.Segment, error) {
	js, err := seg.EventsJSON(nil)
	if err != nil {
		return seg, spool.Permanent(fmt.Errorf("%s: %w", name, err))
	}
	seg.Events, seg.Gzip = js, nil
	return seg, nil
}
