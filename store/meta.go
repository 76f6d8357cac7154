package store

import (
	"encoding/json"
	"slices"
	"time"
	"unicode/utf8"
)

// Meta describes one stored replay. It is what the admin API lists.
// The slices of a Meta returned by the store are shared: treat them as
// read-only.
type Meta struct {
	// ID is the 32-hex replay id.
	ID string `json:"id"`
	// Subject is the opaque visitor id from the consent cookie.
	Subject string `json:"subject"`
	// StartedAt and EndedAt are the first and last event timestamps.
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	// Segments is the number of stored segments.
	Segments int `json:"segments"`
	// Events is the number of rrweb events over all segments.
	Events int `json:"events"`
	// URLs are the pages visited (Meta events and the environment event),
	// deduplicated, in recording order.
	URLs []string `json:"urls"`
	// Bytes is the stored (compressed) size.
	Bytes int64 `json:"bytes"`
	// Browser, OS, Viewport and Language come from the recorder's
	// environment event (custom event tag "replaygate/env").
	Browser  string    `json:"browser,omitempty"`
	OS       string    `json:"os,omitempty"`
	Viewport *Viewport `json:"viewport,omitempty"`
	Language string    `json:"language,omitempty"`
	// Errors counts console errors (custom tag "replaygate/console", level
	// "error"); Clicks counts mouse clicks.
	Errors int `json:"errors"`
	Clicks int `json:"clicks"`
	// UpdatedAt is when the newest segment was accepted by the proxy; the
	// retention period counts from it.
	UpdatedAt time.Time `json:"updatedAt"`
}

// Viewport is the browser window size in CSS pixels.
type Viewport struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Limits that keep a replay's metadata small whatever the recorder sends.
const (
	maxURLs      = 200
	maxURLLen    = 2048
	maxFieldLen  = 128
	minTimestamp = 1               // ms since the epoch; 0 means "unknown"
	maxTimestamp = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// rrweb event and source numbers the summary looks at.
const (
	eventIncrementalSnapshot = 3
	eventMeta                = 4
	eventCustom              = 5
	sourceMouseInteraction   = 2
	mouseClick               = 2
	tagEnv                   = "replaygate/env"
	tagConsole               = "replaygate/console"
)

// env is the recorder's environment event payload.
type env struct {
	Browser  string    `json:"browser,omitempty"`
	OS       string    `json:"os,omitempty"`
	Viewport *Viewport `json:"viewport,omitempty"`
	Language string    `json:"language,omitempty"`
}

// segmentSummary is what segments.jsonl keeps about one segment; a replay's Meta
// is computed from its summaries, so segments may arrive in any order.
type segmentSummary struct {
	Seq        int       `json:"seq"`
	Offset     int64     `json:"offset"` // of its record in the segment log
	Bytes      int64     `json:"bytes"`  // of its gzip member
	Events     int       `json:"events"`
	First      int64     `json:"first,omitempty"`
	Last       int64     `json:"last,omitempty"`
	URLs       []string  `json:"urls,omitempty"`
	Env        *env      `json:"env,omitempty"`
	Errors     int       `json:"errors,omitempty"`
	Clicks     int       `json:"clicks,omitempty"`
	ReceivedAt time.Time `json:"receivedAt"`
}

// eventHead holds the few fields of an rrweb event the summary needs
// (summarize extracts them; everything else is only validated and skipped).
// The JSON tags serve the reference decoder in the tests.
type eventHead struct {
	Type      int     `json:"type"`
	Timestamp float64 `json:"timestamp"`
	Data      struct {
		Href    string          `json:"href"`
		Source  int             `json:"source"`
		Type    int             `json:"type"`
		Tag     string          `json:"tag"`
		Payload json.RawMessage `json:"payload"`
	} `json:"data"`
}

type envPayload struct {
	env
	URL string `json:"url"`
}

type consolePayload struct {
	Level string `json:"level"`
}

func (sum *segmentSummary) add(ev *eventHead) {
	if ts := ev.Timestamp; ts >= minTimestamp && ts <= maxTimestamp {
		ms := int64(ts)
		if sum.First == 0 || ms < sum.First {
			sum.First = ms
		}
		if ms > sum.Last {
			sum.Last = ms
		}
	}
	switch ev.Type {
	case eventMeta:
		sum.addURL(ev.Data.Href)
	case eventIncrementalSnapshot:
		if ev.Data.Source == sourceMouseInteraction && ev.Data.Type == mouseClick {
			sum.Clicks++
		}
	case eventCustom:
		switch ev.Data.Tag {
		case tagEnv:
			var p envPayload
			_ = json.Unmarshal(ev.Data.Payload, &p) // best effort: keep what decoded
			if sum.Env == nil {
				e := p.env.clean()
				if e != (env{}) {
					sum.Env = &e
				}
			}
			sum.addURL(p.URL)
		case tagConsole:
			var p consolePayload
			_ = json.Unmarshal(ev.Data.Payload, &p)
			if p.Level == "error" {
				sum.Errors++
			}
		}
	}
}

func (sum *segmentSummary) addURL(u string) {
	if u == "" || len(sum.URLs) >= maxURLs {
		return
	}
	u = truncate(u, maxURLLen)
	if len(sum.URLs) > 0 && sum.URLs[len(sum.URLs)-1] == u {
		return
	}
	if !slices.Contains(sum.URLs, u) {
		sum.URLs = append(sum.URLs, u)
	}
}

func (e env) clean() env {
	e.Browser = truncate(e.Browser, maxFieldLen)
	e.OS = truncate(e.OS, maxFieldLen)
	e.Language = truncate(e.Language, maxFieldLen)
	if v := e.Viewport; v != nil {
		if v.Width <= 0 || v.Height <= 0 || v.Width > 1<<16 || v.Height > 1<<16 {
			e.Viewport = nil
		} else {
			e.Viewport = &Viewport{Width: v.Width, Height: v.Height}
		}
	}
	return e
}

// truncate shortens s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// replayFile is what the store knows of a replay. On disk, replay.json
// holds it without segments (the durable identity) and segments.jsonl holds
// the segment summaries, one per line.
type replayFile struct {
	Version  int              `json:"version"`
	ID       string           `json:"id"`
	Subject  string           `json:"subject"`
	Segments []segmentSummary `json:"segments,omitempty"` // sorted by seq, unique
}

const replayFileVersion = 1

// find returns the index of seq in the sorted summaries and whether it is there.
func (f *replayFile) find(seq int) (int, bool) {
	return slices.BinarySearchFunc(f.Segments, seq, func(s segmentSummary, seq int) int { return s.Seq - seq })
}

// meta aggregates the segment summaries, in seq order.
func (f *replayFile) meta() Meta {
	m := Meta{ID: f.ID, Subject: f.Subject, Segments: len(f.Segments), URLs: []string{}}
	var first, last int64
	for i := range f.Segments {
		s := &f.Segments[i]
		m.Events += s.Events
		m.Bytes += s.Bytes
		m.Errors += s.Errors
		m.Clicks += s.Clicks
		if s.First != 0 && (first == 0 || s.First < first) {
			first = s.First
		}
		if s.Last > last {
			last = s.Last
		}
		for _, u := range s.URLs {
			if len(m.URLs) < maxURLs && !slices.Contains(m.URLs, u) {
				m.URLs = append(m.URLs, u)
			}
		}
		if s.Env != nil && m.Browser == "" && m.OS == "" && m.Viewport == nil && m.Language == "" {
			m.Browser, m.OS, m.Viewport, m.Language = s.Env.Browser, s.Env.OS, s.Env.Viewport, s.Env.Language
		}
		if s.ReceivedAt.After(m.UpdatedAt) {
			m.UpdatedAt = s.ReceivedAt
		}
	}
	if first != 0 {
		m.StartedAt = time.UnixMilli(first).UTC()
	}
	if last != 0 {
		m.EndedAt = time.UnixMilli(last).UTC()
	}
	return m
}
