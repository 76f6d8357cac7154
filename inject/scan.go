package inject

import "bytes"

// verdict is the scanner's answer after a chunk of input.
type verdict uint8

const (
	undecided verdict = iota // need more input
	found                    // the insertion offset is known
	giveUp                   // no safe insertion point can be found
)

// scanState is one state of the insertion-point state machine. The states
// follow the WHATWG tokenizer closely enough to know where tags, comments
// and raw-text elements start and end; nothing else of HTML is modelled.
type scanState uint8

const (
	stBOM scanState = iota // document start: optional UTF-8 BOM
	stData
	stTagOpen          // after '<'
	stTagName          // start tag name
	stEndTagOpen       // after '</'
	stEndTagName       // end tag name
	stBeforeAttr       // inside a tag, before an attribute name
	stAttrName         // attribute name
	stAfterAttr        // after an attribute name
	stBeforeValue      // after '='
	stValueDQ          // "value"
	stValueSQ          // 'value'
	stValueUQ          // value
	stAfterValueQ      // right after a quoted value
	stMarkupDecl       // after '<!'
	stCommentStart     // after '<!--'
	stCommentStartDash // after '<!---'
	stComment          // inside <!-- -->
	stCommentEndDash   // '-' inside a comment
	stCommentEnd       // '--' inside a comment
	stCommentBang      // '--!' inside a comment
	stBogus            // bogus comment or doctype, ends at '>'
	stCDATA            // XML CDATA section, ends at ']]>'
	stPI               // XML processing instruction, ends at '?>'
	stRawText          // title, style, noscript, noframes: ends at </name
	stRawLT            // '<' inside raw text
	stRawEnd           // matching '</name' inside raw text or script
	stScript           // script data
	stScriptLT
	stScriptEscStart
	stScriptEscStartDash
	stScriptEsc
	stScriptEscDash
	stScriptEscDashDash
	stScriptEscLT
	stScriptDblEscStart
	stScriptDblEsc
	stScriptDblEscDash
	stScriptDblEscDashDash
	stScriptDblEscLT
	stScriptDblEscEnd
	stDone
)

// tagKind classifies a start tag name for the insertion decision.
type tagKind uint8

const (
	kindBody     tagKind = iota // cannot live in <head>: insert before it
	kindHead                    // <head>: insert after it
	kindHTML                    // <html>: keep scanning
	kindHeadOnly                // may live in <head>: keep scanning
	kindRawText                 // head element whose content is raw text
	kindScript                  // <script>
	kindTemplate                // <template>: its content is inert
)

// maxName is longer than every name the scanner needs to recognise
// ("basefont", "noframes", "template"); longer names are body tags.
const maxName = 9

// scanner finds where the injected markup goes. It consumes the decoded
// document in chunks of any size, keeps a few bytes of state across chunk
// boundaries, and never looks back at earlier chunks: the caller holds
// back the bytes from safe() on, because the insertion may land before a
// tag whose name is still being read.
type scanner struct {
	xml   bool // application/xhtml+xml: CDATA and processing instructions end XML-style
	state scanState
	off   int64 // bytes consumed so far

	tagStart   int64 // offset of the '<' that opened the current tag
	pending    bool  // the current tag may still turn into "insert before it"
	insertAt   int64 // decided insertion offset
	endTag     bool  // the current tag is an end tag
	after      tagKind
	selfEnd    bool // last character inside the tag was '/'
	classified bool // the current tag name was classified already

	name    [maxName]byte // lower-cased tag name prefix
	nameLen int

	raw      string    // name of the raw-text element being skipped
	rawIdx   int       // how much of "</"+raw has matched
	rawBack  scanState // state to return to when the match fails
	dashes   int       // consecutive '-' inside a comment
	declBuf  [7]byte   // characters after '<!'
	declLen  int
	tmplDeep int  // open <template> elements
	rootSeen bool // a start tag was seen (XML: the root element)
}

func newScanner(xml bool) scanner {
	return scanner{xml: xml}
}

// safe is the offset before which no insertion can happen any more: the
// caller may release bytes before it.
func (s *scanner) safe() int64 {
	if s.state == stBOM {
		return 0
	}
	if s.pending {
		return s.tagStart
	}
	return s.off
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f'
}

func isAlpha(c byte) bool {
	c |= 0x20
	return c >= 'a' && c <= 'z'
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 0x20
	}
	return c
}

func classify(name []byte, long bool) tagKind {
	if long {
		return kindBody
	}
	switch string(name) {
	case "head":
		return kindHead
	case "html":
		return kindHTML
	case "base", "basefont", "bgsound", "link", "meta":
		return kindHeadOnly
	case "title", "style", "noscript", "noframes":
		return kindRawText
	case "script":
		return kindScript
	case "template":
		return kindTemplate
	}
	return kindBody
}

// scan consumes p. On found, insertAt holds the offset (absolute, from the
// start of the document); input after the decision is not consumed.
func (s *scanner) scan(p []byte) (verdict, int64) {
	for i := 0; i < len(p); {
		c := p[i]
		if c == 0 {
			// NUL before the insertion point means UTF-16/32 or binary
			// data labelled as HTML: inserting ASCII would corrupt it.
			s.state = stDone
			return giveUp, 0
		}
		switch s.state {
		case stBOM:
			// UTF-8 BOM: EF BB BF at offset 0..2.
			if s.off < 3 && c == "\xEF\xBB\xBF"[s.off] {
				break
			}
			if s.off == 0 && (c == 0xFE || c == 0xFF) {
				// UTF-16 byte order mark: inserting ASCII would corrupt it.
				s.state = stDone
				return giveUp, 0
			}
			if s.off > 0 && s.off < 3 {
				// A broken BOM is text: insert at the very start.
				return s.decide(0)
			}
			s.state = stData
			continue
		case stData:
			if isSpace(c) {
				break
			}
			if c != '<' {
				if s.tmplDeep > 0 {
					j := bytes.IndexByte(p[i:], '<')
					if j < 0 {
						s.off += int64(len(p) - i)
						return undecided, 0
					}
					s.off += int64(j)
					i += j
					continue
				}
				// Text that is not whitespace starts the body.
				if s.xml {
					return s.xmlBefore(s.off)
				}
				return s.decide(s.off)
			}
			s.tagStart = s.off
			s.pending = true // the tag may turn out to be the insertion point
			s.state = stTagOpen
		case stTagOpen:
			switch {
			case isAlpha(c):
				s.nameLen = 0
				s.endTag = false
				s.selfEnd = false
				s.classified = false
				s.pending = true
				s.state = stTagName
				continue
			case c == '!':
				s.declLen = 0
				s.pending = false
				s.state = stMarkupDecl
			case c == '/':
				s.state = stEndTagOpen
			case c == '?':
				s.pending = false
				if s.xml {
					s.state = stPI
				} else {
					s.state = stBogus
				}
			default:
				// A lone '<' is text.
				if s.tmplDeep > 0 {
					s.pending = false
					s.state = stData
					continue
				}
				if s.xml {
					return s.xmlBefore(s.tagStart)
				}
				return s.decide(s.tagStart)
			}
		case stTagName, stEndTagName:
			if isSpace(c) || c == '/' || c == '>' {
				if !s.classified {
					if v, at, stop := s.nameDone(); stop {
						return v, at
					}
				}
				s.state = stBeforeAttr
				continue
			}
			if s.nameLen < maxName {
				s.name[s.nameLen] = lower(c)
			}
			s.nameLen++
			if s.nameLen > maxName && !s.classified {
				// Too long for any name we know: decide now, so that the
				// held-back bytes stay bounded.
				if v, at, stop := s.nameDone(); stop {
					return v, at
				}
			}
		case stEndTagOpen:
			switch {
			case isAlpha(c):
				s.nameLen = 0
				s.endTag = true
				s.selfEnd = false
				s.classified = false
				s.pending = true
				s.state = stEndTagName
				continue
			case c == '>':
				s.pending = false
				s.state = stData // "</>" is ignored
			default:
				s.pending = false
				s.state = stBogus
				continue
			}
		case stBeforeAttr:
			switch {
			case isSpace(c):
				s.selfEnd = false
			case c == '/':
				s.selfEnd = true
			case c == '>':
				if v, at, stop := s.tagDone(); stop {
					return v, at
				}
			default:
				s.selfEnd = false
				s.state = stAttrName
			}
		case stAttrName:
			switch {
			case isSpace(c):
				s.state = stAfterAttr
			case c == '/':
				s.state = stBeforeAttr
				continue
			case c == '>':
				if v, at, stop := s.tagDone(); stop {
					return v, at
				}
			case c == '=':
				s.state = stBeforeValue
			}
		case stAfterAttr:
			switch {
			case isSpace(c):
			case c == '/':
				s.state = stBeforeAttr
				continue
			case c == '=':
				s.state = stBeforeValue
			case c == '>':
				if v, at, stop := s.tagDone(); stop {
					return v, at
				}
			default:
				s.state = stAttrName
			}
		case stBeforeValue:
			switch {
			case isSpace(c):
			case c == '"':
				s.state = stValueDQ
			case c == '\'':
				s.state = stValueSQ
			case c == '>':
				if v, at, stop := s.tagDone(); stop {
					return v, at
				}
			default:
				s.state = stValueUQ
			}
		case stValueDQ, stValueSQ:
			q := byte('"')
			if s.state == stValueSQ {
				q = '\''
			}
			j := bytes.IndexByte(p[i:], q)
			if j < 0 {
				s.off += int64(len(p) - i)
				return undecided, 0
			}
			i += j + 1
			s.off += int64(j + 1)
			s.state = stAfterValueQ
			continue
		case stValueUQ:
			switch {
			case isSpace(c):
				s.state = stBeforeAttr
			case c == '>':
				if v, at, stop := s.tagDone(); stop {
					return v, at
				}
			}
		case stAfterValueQ:
			s.state = stBeforeAttr
			continue
		case stMarkupDecl:
			s.declBuf[s.declLen] = c
			s.declLen++
			d := s.declBuf[:s.declLen]
			switch {
			case bytes.Equal(d, []byte("--")):
				s.state = stCommentStart
			case bytes.HasPrefix([]byte("--"), d):
			case s.xml && bytes.Equal(d, []byte("[CDATA[")):
				s.state = stCDATA
				s.dashes = 0
			case s.xml && bytes.HasPrefix([]byte("[CDATA["), d):
			default:
				// DOCTYPE, HTML "CDATA" and everything else end at '>'.
				s.state = stBogus
				continue
			}
		case stCommentStart, stCommentStartDash:
			switch {
			case c == '-' && s.state == stCommentStart:
				s.state = stCommentStartDash
			case c == '-':
				s.state = stCommentEnd
			case c == '>':
				s.state = stData // "<!-->" and "<!--->" are complete comments
			default:
				s.state = stComment
				continue
			}
		case stComment:
			j := bytes.IndexByte(p[i:], '-')
			if j < 0 {
				s.off += int64(len(p) - i)
				return undecided, 0
			}
			i += j + 1
			s.off += int64(j + 1)
			s.state = stCommentEndDash
			continue
		case stCommentEndDash:
			if c == '-' {
				s.state = stCommentEnd
				break
			}
			s.state = stComment
			continue
		case stCommentEnd:
			switch c {
			case '>':
				s.state = stData
			case '!':
				s.state = stCommentBang
			case '-':
			default:
				s.state = stComment
				continue
			}
		case stCommentBang:
			switch c {
			case '>':
				s.state = stData
			case '-':
				s.state = stCommentEndDash
			default:
				s.state = stComment
				continue
			}
		case stBogus:
			j := bytes.IndexByte(p[i:], '>')
			if j < 0 {
				s.off += int64(len(p) - i)
				return undecided, 0
			}
			i += j + 1
			s.off += int64(j + 1)
			s.state = stData
			continue
		case stCDATA, stPI:
			// dashes counts matched terminator bytes: "]]>" or "?>".
			if s.state == stCDATA {
				switch {
				case c == ']':
					if s.dashes < 2 {
						s.dashes++
					}
				case c == '>' && s.dashes == 2:
					s.state = stData
				default:
					s.dashes = 0
				}
			} else {
				switch {
				case c == '?':
					s.dashes = 1
				case c == '>' && s.dashes == 1:
					s.state = stData
				default:
					s.dashes = 0
				}
			}
		case stRawText:
			j := bytes.IndexByte(p[i:], '<')
			if j < 0 {
				s.off += int64(len(p) - i)
				return undecided, 0
			}
			i += j + 1
			s.off += int64(j + 1)
			s.rawIdx = 0
			s.rawBack = stRawText
			s.state = stRawLT
			continue
		case stRawLT:
			if c == '/' {
				s.state = stRawEnd
				break
			}
			s.state = s.rawBack
			continue
		case stRawEnd:
			if s.rawIdx < len(s.raw) {
				if lower(c) == s.raw[s.rawIdx] {
					s.rawIdx++
					break
				}
				s.state = s.rawBack
				continue
			}
			if isSpace(c) || c == '/' || c == '>' {
				// An appropriate end tag: its attributes are tokenized
				// like any tag's, then data resumes.
				s.endTag = true
				s.selfEnd = false
				s.pending = false
				s.state = stBeforeAttr
				continue
			}
			s.state = s.rawBack
			continue
		case stScript:
			j := bytes.IndexByte(p[i:], '<')
			if j < 0 {
				s.off += int64(len(p) - i)
				return undecided, 0
			}
			i += j + 1
			s.off += int64(j + 1)
			s.state = stScriptLT
			continue
		case stScriptLT:
			switch c {
			case '/':
				s.rawIdx = 0
				s.rawBack = stScript
				s.state = stRawEnd
			case '!':
				s.state = stScriptEscStart
			default:
				s.state = stScript
				continue
			}
		case stScriptEscStart:
			if c == '-' {
				s.state = stScriptEscStartDash
				break
			}
			s.state = stScript
			continue
		case stScriptEscStartDash:
			if c == '-' {
				s.state = stScriptEscDashDash
				break
			}
			s.state = stScript
			continue
		case stScriptEsc, stScriptEscDash, stScriptEscDashDash:
			switch {
			case c == '-':
				if s.state == stScriptEsc {
					s.state = stScriptEscDash
				} else {
					s.state = stScriptEscDashDash
				}
			case c == '<':
				s.state = stScriptEscLT
			case c == '>' && s.state == stScriptEscDashDash:
				s.state = stScript
			default:
				s.state = stScriptEsc
			}
		case stScriptEscLT:
			switch {
			case c == '/':
				s.rawIdx = 0
				s.rawBack = stScriptEsc
				s.state = stRawEnd
			case isAlpha(c):
				s.nameLen = 0
				s.state = stScriptDblEscStart
				continue
			default:
				s.state = stScriptEsc
				continue
			}
		case stScriptDblEscStart, stScriptDblEscEnd:
			if isSpace(c) || c == '/' || c == '>' {
				isScript := s.nameLen == 6 && string(s.name[:6]) == "script"
				switch {
				case s.state == stScriptDblEscStart && isScript:
					s.state = stScriptDblEsc
				case s.state == stScriptDblEscStart:
					s.state = stScriptEsc
				case isScript:
					s.state = stScriptEsc
				default:
					s.state = stScriptDblEsc
				}
				break
			}
			if isAlpha(c) {
				if s.nameLen < maxName {
					s.name[s.nameLen] = lower(c)
				}
				s.nameLen++
				break
			}
			if s.state == stScriptDblEscStart {
				s.state = stScriptEsc
			} else {
				s.state = stScriptDblEsc
			}
			continue
		case stScriptDblEsc, stScriptDblEscDash, stScriptDblEscDashDash:
			switch {
			case c == '-':
				if s.state == stScriptDblEsc {
					s.state = stScriptDblEscDash
				} else {
					s.state = stScriptDblEscDashDash
				}
			case c == '<':
				s.state = stScriptDblEscLT
			case c == '>' && s.state == stScriptDblEscDashDash:
				s.state = stScript
			default:
				s.state = stScriptDblEsc
			}
		case stScriptDblEscLT:
			if c == '/' {
				s.nameLen = 0
				s.state = stScriptDblEscEnd
				break
			}
			s.state = stScriptDblEsc
			continue
		case stDone:
			return giveUp, 0
		}
		i++
		s.off++
	}
	return undecided, 0
}

// nameDone runs when a tag name is complete (or too long to matter).
func (s *scanner) nameDone() (verdict, int64, bool) {
	n := s.nameLen
	long := n > maxName
	if long {
		n = maxName
	}
	k := classify(s.name[:n], long)
	s.pending = false
	s.classified = true
	if s.endTag {
		s.after = kindBody
		switch {
		case k == kindTemplate && s.tmplDeep > 0:
			s.tmplDeep--
		case k == kindHead && s.tmplDeep == 0:
			// "</head>" without "<head>": the head ends here.
			v, at := s.decide(s.tagStart)
			return v, at, true
		}
		return undecided, 0, false
	}
	s.after = k
	if k == kindBody && s.tmplDeep == 0 {
		if s.xml {
			v, at := s.xmlBefore(s.tagStart)
			return v, at, true
		}
		v, at := s.decide(s.tagStart)
		return v, at, true
	}
	return undecided, 0, false
}

// tagDone runs at the '>' that closes a tag; s.off still points at it.
func (s *scanner) tagDone() (verdict, int64, bool) {
	s.state = stData
	end := s.off + 1
	if s.endTag {
		return undecided, 0, false
	}
	s.rootSeen = true
	xmlEmpty := s.xml && s.selfEnd
	switch s.after {
	case kindHead:
		if s.tmplDeep == 0 {
			v, at := s.decide(end)
			return v, at, true
		}
	case kindRawText:
		if !xmlEmpty {
			s.raw = rawName(s.name[:s.nameLen])
			s.state = stRawText
		}
	case kindScript:
		if !xmlEmpty {
			s.raw = "script"
			s.state = stScript
		}
	case kindTemplate:
		if !xmlEmpty {
			s.tmplDeep++
		}
	}
	return undecided, 0, false
}

// xmlBefore decides an insertion before body content in an XML document:
// only inside the root element, never before it (a second root element
// would make the document ill-formed).
func (s *scanner) xmlBefore(at int64) (verdict, int64) {
	if !s.rootSeen {
		s.state = stDone
		return giveUp, 0
	}
	return s.decide(at)
}

func (s *scanner) decide(at int64) (verdict, int64) {
	s.state = stDone
	s.pending = false
	s.insertAt = at
	return found, at
}

// rawName returns the canonical name of a raw-text element without
// allocating.
func rawName(name []byte) string {
	for _, n := range [...]string{"title", "style", "noscript", "noframes"} {
		if string(name) == n {
			return n
		}
	}
	return string(name)
}
