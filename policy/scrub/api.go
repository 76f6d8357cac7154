package scrub

// Result describes one scrubbed upload: what the single pass saw on the way.
type Result struct {
	// Events is the number of rrweb events in the array.
	Events int
	// Hits counts replacements per detector name ("creditcard", "email"…).
	Hits map[string]int
	// FirstTimestamp and LastTimestamp are the smallest and largest event
	// timestamps (ms since the epoch) from 1 to the end of year 9999;
	// timestamps outside that range are left out (0: none).
	FirstTimestamp, LastTimestamp int64
	// URLs are the (already scrubbed) page URLs of Meta events (type 4,
	// data.href), in order of appearance.
	URLs []string
	// Clicks counts mouse clicks: events of type 3 whose data.source and
	// data.type are both 2 (integer literals, as rrweb writes them).
	Clicks int
	// Info locates in the output the Meta (type 4) and custom (type 5)
	// events, in order: the few events a caller reads for metadata (pages,
	// environment, console errors) without parsing the whole output again.
	Info []Span
}

// Span is the byte range [Start, End) of one value in the output.
type Span struct{ Start, End int }

// InputError reports input that is not an acceptable rrweb event array.
// Msg is short, says what to fix, and is safe to show to clients.
type InputError struct {
	Msg string
}

func (e *InputError) Error() string { return "scrub: " + e.Msg }
