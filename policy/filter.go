package policy

import (
	"context"

	"github.com/replaygate/replaygate/spool"
)

// DropWithdrawn wraps a forwarder so that segments of a subject that has
// since withdrawn are dropped instead of delivered: a segment accepted just
// before the withdrawal may still sit in the spool when the store erases the
// subject, and must not arrive afterwards. Segments received after a later
// re-grant pass. The wrapper keeps next's name, so spool cursors are kept.
func (c *Consent) DropWithdrawn(next spool.Forwarder) spool.Forwarder {
	return &withdrawnFilter{c: c, next: next}
}

type withdrawnFilter struct {
	c    *Consent
	next spool.Forwarder
}

func (f *withdrawnFilter) Name() string { return f.next.Name() }

func (f *withdrawnFilter) Forward(ctx context.Context, seg spool.Segment) error {
	if at, ok := f.c.Withdrawn(seg.Subject); ok && !seg.ReceivedAt.After(at) {
		f.c.m.dropped.WithLabelValues(f.next.Name()).Inc()
		return nil
	}
	return f.next.Forward(ctx, seg)
}
