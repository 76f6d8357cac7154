package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// summarize reads a JSON array of rrweb events and returns its summary. It
// validates the whole input in the same single pass (it accepts exactly
// what json.Valid accepts, when it is an array) and looks into an event's
// data only for the event types the summary uses. Fields of unexpected
// types are ignored; only invalid JSON or a non-array fails.
//
// It replaces an encoding/json decoder (summarizeReference in the tests,
// 3-4x slower) on the store's hot path; FuzzMeta checks both agree.
func summarize(events []byte) (segmentSummary, error) {
	var sum segmentSummary
	s := scanner{b: events}
	s.skipWS()
	if !s.peek('[') {
		return sum, errNotArray
	}
	s.i++
	s.depth = 1
	s.skipWS()
	if s.peek(']') {
		s.i++
	} else {
		for {
			var ev eventHead
			if err := s.event(&ev); err != nil {
				return sum, err
			}
			sum.Events++
			sum.add(&ev)
			s.skipWS()
			if s.peek(',') {
				s.i++
				s.skipWS()
				continue
			}
			if !s.peek(']') {
				return sum, s.fail()
			}
			s.i++
			break
		}
	}
	s.skipWS()
	if s.i != len(s.b) {
		return sum, errors.New("summarize: data after the event array")
	}
	return sum, nil
}

// errNotArray is returned for input that is not a JSON array.
var errNotArray = errors.New("events are not a JSON array")

// maxDepth is encoding/json's nesting limit, which json.Valid applies too.
const maxDepth = 10000

// scanner validates JSON and skips values, byte by byte.
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) fail() error {
	if s.i >= len(s.b) {
		return errors.New("summarize: unexpected end of JSON")
	}
	return fmt.Errorf("summarize: invalid JSON at offset %d", s.i)
}

func (s *scanner) peek(c byte) bool { return s.i < len(s.b) && s.b[s.i] == c }

func (s *scanner) skipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value validates and skips one value starting at s.i.
func (s *scanner) value() error {
	if s.i >= len(s.b) {
		return s.fail()
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object()
	case c == '[':
		return s.array()
	case c == '"':
		return s.str()
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.fail()
}

// valueSpan skips one value and returns its bytes.
func (s *scanner) valueSpan() ([]byte, error) {
	start := s.i
	err := s.value()
	return s.b[start:s.i], err
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return s.fail()
	}
	s.i += len(lit)
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (s *scanner) number() error {
	b, i := s.b, s.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		s.i = i
		return s.fail()
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			s.i = i
			return s.fail()
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			s.i = i
			return s.fail()
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	s.i = i
	return nil
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// str validates and skips a string. Like encoding/json it does not check
// UTF-8 (the decoder would replace invalid bytes).
func (s *scanner) str() error {
	b, i := s.b, s.i+1
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return nil
		case c == '\\':
			i++
			if i >= len(b) {
				s.i = i
				return s.fail()
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					s.i = i
					return s.fail()
				}
				i += 5
			default:
				s.i = i
				return s.fail()
			}
		case c < 0x20:
			s.i = i
			return s.fail()
		default:
			i++
		}
	}
	s.i = i
	return s.fail()
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > maxDepth {
		return errors.New("summarize: JSON nested too deeply")
	}
	s.i++ // the opening bracket
	s.skipWS()
	return nil
}

func (s *scanner) array() error {
	if err := s.enter(); err != nil {
		return err
	}
	if s.peek(']') {
		s.i++
		s.depth--
		return nil
	}
	for {
		if err := s.value(); err != nil {
			return err
		}
		s.skipWS()
		if s.peek(',') {
			s.i++
			s.skipWS()
			continue
		}
		if !s.peek(']') {
			return s.fail()
		}
		s.i++
		s.depth--
		return nil
	}
}

// object validates and skips an object.
func (s *scanner) object() error {
	more, err := s.openObject()
	for more && err == nil {
		if _, err = s.key(); err != nil {
			return err
		}
		if err = s.value(); err != nil {
			return err
		}
		more, err = s.nextMember()
	}
	return err
}

// openObject enters the object at s.i and reports whether it has members.
func (s *scanner) openObject() (bool, error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	if s.peek('}') {
		s.i++
		s.depth--
		return false, nil
	}
	return true, nil
}

// key reads a member's key and colon; the value starts at s.i. The key is
// returned raw (escapes undecoded): the summary's keys have none.
func (s *scanner) key() ([]byte, error) {
	if !s.peek('"') {
		return nil, s.fail()
	}
	start := s.i
	if err := s.str(); err != nil {
		return nil, err
	}
	k := s.b[start+1 : s.i-1]
	s.skipWS()
	if !s.peek(':') {
		return nil, s.fail()
	}
	s.i++
	s.skipWS()
	return k, nil
}

// nextMember moves past a member's value: true if another member follows.
func (s *scanner) nextMember() (bool, error) {
	s.skipWS()
	if s.peek(',') {
		s.i++
		s.skipWS()
		return true, nil
	}
	if !s.peek('}') {
		return false, s.fail()
	}
	s.i++
	s.depth--
	return false, nil
}

// eventData holds the raw values of the data members the summary reads.
type eventData struct {
	href, source, action, tag, payload []byte
}

// event reads one element of the event array into ev. Elements that are not
// objects are skipped (they still count as events). As with encoding/json,
// a later duplicate member wins unless its value has the wrong type.
func (s *scanner) event(ev *eventHead) error {
	if !s.peek('{') {
		return s.value()
	}
	var data eventData
	dataFor := -1 // the event type data was read for; -1: not read
	var dataSpan []byte
	more, err := s.openObject()
	for more && err == nil {
		var k, v []byte
		if k, err = s.key(); err != nil {
			return err
		}
		switch string(k) {
		case "type":
			if v, err = s.valueSpan(); err == nil {
				if n, ok := parseInt(v); ok {
					ev.Type = n
				}
			}
		case "timestamp":
			if v, err = s.valueSpan(); err == nil {
				if f, ok := parseFloat(v); ok {
					ev.Timestamp = f
				}
			}
		case "data":
			// rrweb writes "type" before "data": read the members the
			// type needs while validating, instead of a second pass.
			start := s.i
			if wantsData(ev.Type) && s.peek('{') {
				data, dataFor = eventData{}, ev.Type
				err = s.dataMembers(&data)
			} else {
				dataFor = -1
				err = s.value()
			}
			dataSpan = s.b[start:s.i]
		default:
			err = s.value()
		}
		if err != nil {
			return err
		}
		more, err = s.nextMember()
	}
	if err != nil {
		return err
	}

	t := ev.Type
	if !wantsData(t) || len(dataSpan) == 0 || dataSpan[0] != '{' {
		return nil
	}
	if dataFor != t {
		// "data" came before "type": read it again, it is valid already.
		data = eventData{}
		sub := scanner{b: dataSpan}
		if err := sub.dataMembers(&data); err != nil {
			return err
		}
	}
	switch t {
	case eventMeta:
		ev.Data.Href, _ = parseString(data.href)
	case eventIncrementalSnapshot:
		ev.Data.Source, _ = parseInt(data.source)
		ev.Data.Type, _ = parseInt(data.action)
	case eventCustom:
		ev.Data.Tag, _ = parseString(data.tag)
		if len(data.payload) > 0 && data.payload[0] == '{' {
			ev.Data.Payload = data.payload
		}
	}
	return nil
}

func wantsData(t int) bool {
	return t == eventMeta || t == eventIncrementalSnapshot || t == eventCustom
}

// dataMembers reads an event's data object, keeping the raw values the
// summary may use; like encoding/json, the last duplicate wins.
func (s *scanner) dataMembers(d *eventData) error {
	more, err := s.openObject()
	for more && err == nil {
		var k []byte
		if k, err = s.key(); err != nil {
			return err
		}
		var v []byte
		if v, err = s.valueSpan(); err != nil {
			return err
		}
		switch string(k) {
		case "href":
			d.href = v
		case "source":
			d.source = v
		case "type":
			d.action = v
		case "tag":
			d.tag = v
		case "payload":
			d.payload = v
		}
		more, err = s.nextMember()
	}
	return err
}

// parseInt returns the value of an integer literal that fits an int64.
func parseInt(v []byte) (int, bool) {
	digits := v
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		if len(digits) > 18 && len(digits) < 21 {
			n, err := strconv.ParseInt(string(v), 10, 64)
			return int(n), err == nil
		}
		return 0, false
	}
	n := 0
	for _, c := range digits {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if len(digits) != len(v) {
		n = -n
	}
	return n, true
}

// parseFloat returns the value of a number literal.
func parseFloat(v []byte) (float64, bool) {
	if len(v) == 0 || (v[0] != '-' && !isDigit(v[0])) {
		return 0, false
	}
	if len(v) <= 15 {
		n, ok := 0, true
		for _, c := range v {
			if !isDigit(c) {
				ok = false
				break
			}
			n = n*10 + int(c-'0')
		}
		if ok {
			return float64(n), true
		}
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}

// parseString decodes a string literal.
func parseString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var out string
	if err := json.Unmarshal(v, &out); err != nil {
		return "", false
	}
	return out, true
}
