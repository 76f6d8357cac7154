package scrub

// Result describes one scrubbed upload: what the single pass saw on the way.
type Result struct {
	// Events is the number of rrweb events in the array.
	Events int
	// Hits counts replacements per detector name ("creditcard", "email"…).
	Hits map[string]int
	// FirstTimestamp and LastTimestamp are the smallest and largest event
	// timestamps (ms since the epoch).
	FirstTimestamp, LastTimestamp int64
	// URLs are the (already scrubbed) page URLs of Meta events (type 4,
	// data.href), in order of appearance.
	URLs []string
}

// InputError reports input that is not an acceptable rrweb event array.
// Msg is short, says what to fix, and is safe to show to clients.
type InputError struct {
	Msg string
}

func (e *InputError) Error() string { return "scrub: " + e.Msg }
