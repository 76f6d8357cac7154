package policy

import (
	"context"
	"testing"
	"time"

	"github.com/replaygate/replaygate/spool"
)

type recordingForwarder struct{ got []string }

func (r *recordingForwarder) Name() string { return "local" }
func (r *recordingForwarder) Forward(_ context.Context, seg spool.Segment) error {
	r.got = append(r.got, seg.Key())
	return nil
}

func TestDropWithdrawn(t *testing.T) {
	f := newFixture(t, nil)
	_, granted := f.decide("granted", nil)
	subject := mustSubject(t, f, granted)
	_, other := f.decide("granted", nil)
	before := f.clock.Now()
	f.clock.Add(time.Second)
	_, denied := f.decide("denied", nil, granted)
	f.clock.Add(time.Second)
	_, regrant := f.decide("granted", nil, denied)
	if s, err := f.verify(nil, regrant); err != nil || s != subject {
		t.Fatal("re-grant failed")
	}
	after := f.clock.Now().Add(time.Millisecond)

	next := &recordingForwarder{}
	fwd := f.c.DropWithdrawn(next)
	if fwd.Name() != "local" {
		t.Fatalf("name %q", fwd.Name())
	}
	segs := []spool.Segment{
		{ReplayID: "a", Seq: 0, Subject: subject, ReceivedAt: before},                  // in flight at withdrawal: dropped
		{ReplayID: "b", Seq: 0, Subject: subject, ReceivedAt: after},                   // after re-grant: delivered
		{ReplayID: "c", Seq: 0, Subject: mustSubject(t, f, other), ReceivedAt: before}, // other visitor
	}
	for _, s := range segs {
		if err := fwd.Forward(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	if len(next.got) != 2 || next.got[0] != "b/0" || next.got[1] != "c/0" {
		t.Fatalf("delivered %v, want [b/0 c/0]", next.got)
	}
}
