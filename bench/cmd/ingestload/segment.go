package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// rrweb event and incremental-source numbers (rrweb 2.x).
const (
	evFullSnapshot = 2
	evIncremental  = 3
	evMeta         = 4
	evCustom       = 5

	srcMutation         = 0
	srcMouseMove        = 1
	srcMouseInteraction = 2
	srcScroll           = 3
	srcInput            = 5
)

// segmentGen builds realistic rrweb segments: what the recorder uploads
// after masking in the browser (text mostly masked to asterisks, but URLs,
// attributes, CSS, input values of unmasked fields and custom events still
// carry strings the edge scrubber must walk, some of them PII).
type segmentGen struct {
	r      *rand.Rand
	nextID int
	ts     int64
}

func newSegmentGen(seed uint64) *segmentGen {
	return &segmentGen{r: rand.New(rand.NewPCG(seed, 17)), nextID: 1, ts: 1764300000000}
}

var (
	tags     = []string{"div", "span", "a", "p", "li", "button", "img", "section", "h2", "input"}
	classes  = []string{"card", "grid", "price", "btn btn-primary", "nav-item", "hero", "product-title", "badge", "row", "col-6"}
	piiLike  = []string{"jane.doe@example.com", "4111 1111 1111 1111", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl", "+1 415 555 0134", "10.20.30.40", "DE89 3704 0044 0532 0130 00"}
	harmless = []string{"Order #100234", "v4.12.3", "2026-11-28", "SKU-004512", "Add to cart", "Free shipping over $50"}
)

func (g *segmentGen) id() int { g.nextID++; return g.nextID }

func (g *segmentGen) tick() int64 { g.ts += int64(5 + g.r.IntN(60)); return g.ts }

func (g *segmentGen) mask(n int) string { return strings.Repeat("*", n) }

func (g *segmentGen) text() string {
	switch g.r.IntN(12) {
	case 0:
		return piiLike[g.r.IntN(len(piiLike))]
	case 1, 2:
		return harmless[g.r.IntN(len(harmless))]
	}
	return g.mask(3 + g.r.IntN(40))
}

// node returns a serialized DOM subtree of about depth levels.
func (g *segmentGen) node(depth int) map[string]any {
	if depth == 0 || g.r.IntN(4) == 0 {
		return map[string]any{"type": 3, "textContent": g.text(), "id": g.id()}
	}
	tag := tags[g.r.IntN(len(tags))]
	attrs := map[string]any{"class": classes[g.r.IntN(len(classes))]}
	switch tag {
	case "a":
		attrs["href"] = fmt.Sprintf("https://shop.example/p/item-%d?ref=grid&utm_source=mail", g.r.IntN(100000))
	case "img":
		attrs["src"] = fmt.Sprintf("https://cdn.shop.example/media/%x.webp", g.r.Uint64())
		attrs["alt"] = g.mask(12)
	case "input":
		attrs["type"] = "text"
		attrs["name"] = "q"
		attrs["value"] = g.mask(8)
	}
	if g.r.IntN(5) == 0 {
		attrs["style"] = fmt.Sprintf("transform: translateX(%dpx); color: #%06x", g.r.IntN(400), g.r.IntN(1<<24))
	}
	var kids []any
	for range 1 + g.r.IntN(4) {
		kids = append(kids, g.node(depth-1))
	}
	return map[string]any{"type": 2, "tagName": tag, "attributes": attrs, "childNodes": kids, "id": g.id()}
}

func (g *segmentGen) fullSnapshot() map[string]any {
	body := map[string]any{"type": 2, "tagName": "body", "attributes": map[string]any{}, "id": g.id(), "childNodes": []any{g.node(6), g.node(6), g.node(5)}}
	head := map[string]any{"type": 2, "tagName": "head", "attributes": map[string]any{}, "id": g.id(), "childNodes": []any{
		map[string]any{"type": 2, "tagName": "style", "attributes": map[string]any{"_cssText": ".card{padding:12px;border-radius:6px}.price{font-weight:600}.hero{background:url(https://cdn.shop.example/hero.jpg)}"}, "childNodes": []any{}, "id": g.id()},
	}}
	html := map[string]any{"type": 2, "tagName": "html", "attributes": map[string]any{"lang": "en"}, "id": g.id(), "childNodes": []any{head, body}}
	return map[string]any{"type": evFullSnapshot, "timestamp": g.tick(), "data": map[string]any{
		"node":          map[string]any{"type": 0, "childNodes": []any{map[string]any{"type": 1, "name": "html", "publicId": "", "systemId": "", "id": g.id()}, html}, "id": 1},
		"initialOffset": map[string]any{"left": 0, "top": 0},
	}}
}

func (g *segmentGen) incremental() map[string]any {
	var data map[string]any
	switch k := g.r.IntN(10); {
	case k < 4:
		var pos []any
		for range 3 + g.r.IntN(10) {
			pos = append(pos, map[string]any{"x": g.r.IntN(1400), "y": g.r.IntN(900), "id": g.r.IntN(g.nextID + 1), "timeOffset": -g.r.IntN(500)})
		}
		data = map[string]any{"source": srcMouseMove, "positions": pos}
	case k < 6:
		data = map[string]any{"source": srcMutation, "texts": []any{map[string]any{"id": g.r.IntN(g.nextID + 1), "value": g.text()}},
			"attributes": []any{map[string]any{"id": g.r.IntN(g.nextID + 1), "attributes": map[string]any{"class": classes[g.r.IntN(len(classes))]}}},
			"removes":    []any{}, "adds": []any{map[string]any{"parentId": g.r.IntN(g.nextID + 1), "nextId": nil, "node": g.node(2)}}}
	case k < 7:
		data = map[string]any{"source": srcInput, "id": g.r.IntN(g.nextID + 1), "text": g.text(), "isChecked": false}
	case k < 8:
		data = map[string]any{"source": srcScroll, "id": 1, "x": 0, "y": g.r.IntN(8000)}
	default:
		data = map[string]any{"source": srcMouseInteraction, "type": g.r.IntN(10), "id": g.r.IntN(g.nextID + 1), "x": g.r.IntN(1400), "y": g.r.IntN(900)}
	}
	return map[string]any{"type": evIncremental, "timestamp": g.tick(), "data": data}
}

// segment returns one JSON event array of at least jsonBytes bytes (or
// whose gzip is at least gzipBytes, when that is positive) and its gzip.
// With snapshot it starts like the first segment of a replay: a Meta event
// and a full DOM snapshot; otherwise like the later ones.
func (g *segmentGen) segment(snapshot bool, jsonBytes, gzipBytes int) (raw, gz []byte, err error) {
	var buf bytes.Buffer
	add := func(ev any) error {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if buf.Len() == 0 {
			buf.WriteByte('[')
		} else {
			buf.WriteByte(',')
		}
		buf.Write(b)
		return nil
	}
	closed := func() []byte { return append(bytes.Clone(buf.Bytes()), ']') }
	if snapshot {
		if err := add(map[string]any{"type": evMeta, "timestamp": g.tick(), "data": map[string]any{"href": "https://shop.example/c/kitchen?page=2", "width": 1440, "height": 900}}); err != nil {
			return nil, nil, err
		}
		if err := add(g.fullSnapshot()); err != nil {
			return nil, nil, err
		}
	}
	nextCheck := 0
	for {
		ev := g.incremental()
		if g.r.IntN(80) == 0 {
			ev = map[string]any{"type": evCustom, "timestamp": g.tick(), "data": map[string]any{"tag": "network", "payload": map[string]any{"url": "/api/cart?session=9f8e7d6c5b4a", "status": 200, "method": "POST"}}}
		}
		if err := add(ev); err != nil {
			return nil, nil, err
		}
		if gzipBytes <= 0 {
			if buf.Len()+1 >= jsonBytes {
				break
			}
			continue
		}
		// Checking the compressed size is costly: check again only after
		// the JSON grew by a tenth.
		if buf.Len() >= gzipBytes && buf.Len() >= nextCheck {
			if gz, err = gzipBody(closed()); err != nil {
				return nil, nil, err
			}
			if len(gz) >= gzipBytes {
				return closed(), gz, nil
			}
			nextCheck = buf.Len() + buf.Len()/10
		}
	}
	raw = closed()
	gz, err = gzipBody(raw)
	return raw, gz, err
}

func gzipBody(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, 6) // what CompressionStream("gzip") produces, near enough
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
