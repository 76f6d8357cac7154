package store

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/replaygate/replaygate/policy/scrub"
	"github.com/replaygate/replaygate/spool"
)

// TestSummaryFromScrubberMatchesSummarize: the summary Forward builds from
// what ingest's scrubber saw (spool.Summary) equals the one summarize
// reads from the scrubbed events, for realistic recordings and the cases
// summarize is tested on. (Inputs the scrubber refuses never reach the
// store. Left out: duplicate keys whose later value has another type, and
// keys spelled with escapes such as "sour\u0063e"; there the two may
// differ, which only touches the metadata of a client that sends such
// events, never what is scrubbed.)
func TestSummaryFromScrubberMatchesSummarize(t *testing.T) {
	sc, err := scrub.New(scrub.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{
		"events":  events(3, 20),
		"fixture": fixture(t),
	}
	if b, err := os.ReadFile("../policy/scrub/testdata/recording.json"); err == nil {
		inputs["scrub corpus"] = b
	} else {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"meta dedup": `[{"type":4,"timestamp":10,"data":{"href":"b"}},{"type":4,"timestamp":5,"data":{"href":"a"}},{"type":4,"timestamp":7,"data":{"href":"b"}}]`,
		"clicks":     `[{"type":3,"timestamp":1,"data":{"source":2,"type":2}},{"type":3,"timestamp":2,"data":{"source":2,"type":4}},{"type":3,"timestamp":3,"data":{"source":1,"type":2}},{"type":2,"timestamp":4,"data":{"source":2,"type":2}},{"timestamp":5,"data":{"type":2,"source":2},"type":3},{"type":3,"timestamp":6,"data":{"source":2,"type":2.0}}]`,
		"console":    `[{"type":5,"timestamp":1,"data":{"tag":"replaygate/console","payload":{"level":"error","args":["card 4111 1111 1111 1111"]}}},{"type":5,"timestamp":1,"data":{"tag":"replaygate/console","payload":{"level":"log"}}},{"type":5,"timestamp":1,"data":{"tag":"other","payload":{"level":"error"}}}]`,
		"env":        `[{"type":5,"timestamp":1,"data":{"tag":"replaygate/env","payload":{"browser":"Firefox 140","os":"macOS","viewport":{"width":800,"height":600},"language":"de","url":"https://x/?token=secret123"}}},{"type":4,"timestamp":2,"data":{"href":"https://y/"}},{"type":5,"timestamp":2,"data":{"tag":"replaygate/env","payload":{"browser":"Other"}}}]`,
		"data first": `[{"data":{"href":"https://z/"},"timestamp":3,"type":4},{"data":{"tag":"replaygate/console","payload":{"level":"error"}},"type":5,"timestamp":4}]`,
		"range":      `[{"type":3,"timestamp":-1},{"type":3,"timestamp":1e300},{"type":3,"timestamp":0},{"type":3,"timestamp":1764336000000.5}]`,
		"empty":      `[]`,
		"spaces":     " [ {\"type\" : 4 , \"timestamp\" : 9 , \"data\" : { \"href\" : \"https://s/\" } } ] ",
	} {
		inputs[name] = []byte(in)
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			out, res, err := sc.Scrub(nil, in)
			if err != nil {
				t.Fatalf("scrub: %v", err)
			}
			given := &spool.Summary{Events: res.Events, First: res.FirstTimestamp, Last: res.LastTimestamp, Clicks: res.Clicks}
			for _, sp := range res.Info {
				given.Info = append(given.Info, out[sp.Start:sp.End])
			}
			events := bytes.TrimSpace(out)
			sg := spool.Segment{Events: events, Summary: given}
			body := bodyOf(sg)
			got, err := summaryOf(sg, &body)
			if err != nil {
				t.Fatal(err)
			}
			want, err := summarize(events)
			if err != nil {
				t.Fatal(err)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if !bytes.Equal(gj, wj) {
				t.Fatalf("from the scrubber %s\nsummarize        %s", gj, wj)
			}
		})
	}
}

// TestSummaryThatDoesNotHoldTogether: a summary that contradicts itself
// (or events that are not what it describes) is ignored and the events
// are read instead.
func TestSummaryThatDoesNotHoldTogether(t *testing.T) {
	evs := []byte(`[{"type":4,"timestamp":5,"data":{"href":"https://a/"}}]`)
	want, _ := summarize(evs)
	for name, given := range map[string]*spool.Summary{
		"first after last":        {Events: 1, First: 9, Last: 5},
		"more clicks than events": {Events: 1, First: 5, Last: 5, Clicks: 2},
		"more events than bytes":  {Events: 1000, First: 5, Last: 5},
		"negative":                {Events: -1},
		"info not a JSON object":  {Events: 1, First: 5, Last: 5, Info: [][]byte{[]byte(`[1]`)}},
		"info truncated":          {Events: 1, First: 5, Last: 5, Info: [][]byte{[]byte(`{"type":4`)}},
	} {
		// The same with the events only as a gzip member: they are
		// decompressed to be read.
		for _, sg := range []spool.Segment{{Events: evs, Summary: given}, {Gzip: gzipOf(t, evs), Summary: given}} {
			body := bodyOf(sg)
			got, err := summaryOf(sg, &body)
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if err != nil || !bytes.Equal(gj, wj) {
				t.Errorf("%s (gzip %v): %s (%v), want %s", name, sg.Gzip != nil, gj, err, wj)
			}
		}
	}
}
