// Command gen writes the benchmark corpus testdata/recording.json: a
// deterministic rrweb recording of a shop page (full snapshot with nested
// DOM and CSS, mutations, mouse, scroll and input events, Meta, console
// plugin and network custom events) with a realistic sprinkle of personal
// data among many look-alikes.
//
//	go run ./testdata/gen -o testdata/recording.json
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strings"
)

type node struct {
	Type        int               `json:"type"`
	Name        string            `json:"name,omitempty"`
	PublicID    *string           `json:"publicId,omitempty"`
	SystemID    *string           `json:"systemId,omitempty"`
	TagName     string            `json:"tagName,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	ChildNodes  []*node           `json:"childNodes,omitempty"`
	TextContent *string           `json:"textContent,omitempty"`
	IsStyle     bool              `json:"isStyle,omitempty"`
	IsSVG       bool              `json:"isSVG,omitempty"`
	CompatMode  string            `json:"compatMode,omitempty"`
	ID          int               `json:"id"`
}

type event struct {
	Type      int   `json:"type"`
	Data      any   `json:"data"`
	Timestamp int64 `json:"timestamp"`
}

type gen struct {
	r      *rand.Rand
	nextID int
	ts     int64
	events []event
	ids    []int // element ids, for mutations and interactions
	texts  []int // text node ids
}

func (g *gen) id() int { g.nextID++; return g.nextID }

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func str(s string) *string { return &s }

func (g *gen) el(tag string, attrs map[string]string, kids ...*node) *node {
	n := &node{Type: 2, TagName: tag, Attributes: attrs, ChildNodes: kids, ID: g.id()}
	if n.Attributes == nil {
		n.Attributes = map[string]string{}
	}
	if n.ChildNodes == nil {
		n.ChildNodes = []*node{}
	}
	g.ids = append(g.ids, n.ID)
	return n
}

func (g *gen) text(s string) *node {
	n := &node{Type: 3, TextContent: str(s), ID: g.id()}
	g.texts = append(g.texts, n.ID)
	return n
}

var words = strings.Fields(`the quick lightweight breathable running shoe for daily training
with responsive cushioning and a durable rubber outsole designed to keep you comfortable
on long runs our customers love the fit and the recycled materials free returns within
thirty days easy exchanges secure checkout fast delivery sustainable cotton organic
wool merino jacket waterproof hiking trail everyday classic slim regular fit limited
edition new arrivals best sellers gift cards sale clearance members get early access`)

var productNames = []string{
	"Trail Runner 2", "Merino Crew Sock", "Rain Shell Jacket", "Everyday Tee",
	"Lightweight Fleece", "Laufschuh Größe 42", "ウールセーター", "Café Hoodie",
	"Slim Chino", "Canvas Tote", "Wool Beanie", "Packable Down Vest",
}

func (g *gen) sentence(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.pick(words))
	}
	return b.String()
}

func (g *gen) css(rules int) string {
	props := []string{
		"margin: 0 auto", "padding: 12px 16px", "color: #1a1a1a", "background-color: #f5f5f0",
		"font-family: Inter, -apple-system, BlinkMacSystemFont, 'Segoe UI', sans-serif",
		"font-size: 0.875rem", "line-height: 1.5", "display: flex", "gap: 24px",
		"grid-template-columns: repeat(auto-fill, minmax(240px, 1fr))", "border-radius: 8px",
		"box-shadow: 0 1px 3px rgba(0, 0, 0, 0.12), 0 1px 2px rgba(0, 0, 0, 0.24)",
		"transition: transform 0.2s cubic-bezier(0.4, 0, 0.2, 1)", "z-index: 1000",
		"background-image: url(\"https://cdn.shop.example.com/img/bg-1920x1080.webp?v=20240115\")",
		"transform: translate3d(0px, -50%, 0px) scale(1.05)", "width: calc(100% - 48px)",
		"border: 1px solid hsl(210, 14%, 89%)", "content: \"\\2014 \\00A0\"", "opacity: 0.85",
		"animation: fadeIn 300ms ease-in-out 150ms both", "max-width: 1280px",
	}
	sels := []string{".btn", ".btn-primary:hover", ".product-card", ".nav__link", "#checkout-form input[type=\"email\"]",
		".grid > .col-md-6", "a::after", "li::marker", ".hero h1", "@media (min-width: 768px) { .container",
		".price--sale", ".badge-new", "footer .legal", ".sr-only", ":root"}
	var b strings.Builder
	for i := 0; i < rules; i++ {
		b.WriteString(g.pick(sels))
		fmt.Fprintf(&b, "-%d { ", i%37)
		for j := 0; j < 2+g.r.IntN(5); j++ {
			b.WriteString(g.pick(props))
			b.WriteString("; ")
		}
		b.WriteString("}\n")
	}
	b.WriteString(":root { --brand-500: #3b82f6; --brand-600: #2563eb; --radius: 8px; --build: \"4.12.0-rc.3+sha.9f8e7d6\"; }\n")
	return b.String()
}

func (g *gen) product(i int) *node {
	name := g.pick(productNames)
	price := fmt.Sprintf("$%d.%02d", 10+g.r.IntN(190), g.r.IntN(100))
	sku := fmt.Sprintf("SKU-%06d-%02d", g.r.IntN(1000000), g.r.IntN(100))
	img := fmt.Sprintf("https://cdn.shop.example.com/products/%d/main.jpg", 100000+i)
	return g.el("article", map[string]string{"class": "product-card col-md-3 col-sm-6", "data-sku": sku, "data-product-id": fmt.Sprint(4000000 + i)},
		g.el("a", map[string]string{"href": fmt.Sprintf("/products/%s-%d?ref=grid&position=%d", strings.ToLower(strings.ReplaceAll(name, " ", "-")), i, i)},
			g.el("img", map[string]string{
				"src":     img + "?w=400&h=400&fit=crop&auto=format",
				"srcset":  fmt.Sprintf("%s?w=400 400w, %s?w=800 800w, %s?w=1200 1200w", img, img, img),
				"alt":     name,
				"loading": "lazy", "width": "400", "height": "400",
			}),
		),
		g.el("h3", map[string]string{"class": "product-card__title"}, g.text(name)),
		g.el("p", map[string]string{"class": "product-card__desc"}, g.text(g.sentence(12+g.r.IntN(20)))),
		g.el("div", map[string]string{"class": "product-card__meta"},
			g.el("span", map[string]string{"class": "price price--sale"}, g.text(price)),
			g.el("span", map[string]string{"class": "rating", "aria-label": fmt.Sprintf("Rated %d.%d out of 5", 3+g.r.IntN(2), g.r.IntN(10))}, g.text("★★★★☆")),
			g.el("button", map[string]string{"class": "btn btn-primary", "type": "button", "data-action": "add-to-cart"}, g.text("Add to cart")),
		),
	)
}

func (g *gen) orderRow(i int) *node {
	order := fmt.Sprintf("Order #%d-%d", 100000+g.r.IntN(900000), g.r.IntN(1000))
	date := fmt.Sprintf("2024-%02d-%02d 14:%02d:%02d", 1+g.r.IntN(12), 1+g.r.IntN(28), g.r.IntN(60), g.r.IntN(60))
	track := fmt.Sprintf("1Z%06d%010d", g.r.IntN(999999), g.r.IntN(1_000_000_000))
	cells := []string{order, date, track, fmt.Sprintf("€%d,%02d", 20+g.r.IntN(400), g.r.IntN(100)), "Delivered"}
	if i == 3 {
		cells[4] = "Refund to card ending 4242, contact jane.doe@example.org"
	}
	var tds []*node
	for _, c := range cells {
		tds = append(tds, g.el("td", nil, g.text(c)))
	}
	return g.el("tr", map[string]string{"class": "order-row"}, tds...)
}

func (g *gen) svgIcon() *node {
	n := g.el("svg", map[string]string{"viewBox": "0 0 24 24", "width": "24", "height": "24", "fill": "none", "stroke": "currentColor"},
		g.el("path", map[string]string{"d": "M3 3h2l.4 2M7 13h10l4-8H5.4M7 13L5.4 5M7 13l-2.293 2.293c-.63.63-.184 1.707.707 1.707H17m0 0a2 2 0 100 4 2 2 0 000-4zm-8 2a2 2 0 11-4 0 2 2 0 014 0z"}))
	n.IsSVG = true
	n.ChildNodes[0].IsSVG = true
	return n
}

// nest wraps n in depth layout divs, as component frameworks do.
func (g *gen) nest(n *node, depth int) *node {
	for i := 0; i < depth; i++ {
		n = g.el("div", map[string]string{"class": fmt.Sprintf("layout-%d", i)}, n)
	}
	return n
}

func (g *gen) fullSnapshot() *node {
	docID := g.id()
	doctype := &node{Type: 1, Name: "html", PublicID: str(""), SystemID: str(""), ID: g.id()}
	style := g.el("style", nil)
	style.ChildNodes = []*node{{Type: 3, TextContent: str(g.css(900)), IsStyle: true, ID: g.id()}}
	link := g.el("link", map[string]string{"rel": "stylesheet", "href": "https://cdn.shop.example.com/css/app.4f3a2b1c.css", "_cssText": g.css(300)})
	head := g.el("head", nil,
		g.el("meta", map[string]string{"charset": "utf-8"}),
		g.el("meta", map[string]string{"name": "viewport", "content": "width=device-width, initial-scale=1"}),
		g.el("meta", map[string]string{"name": "csrf-token", "content": "kX9f2mQ7vR1pL8sT4wZ6yB3nC5hJ0dE"}),
		g.el("title", nil, g.text("Trail Runner 2 – Example Shop")),
		link, style,
	)
	var products []*node
	for i := 0; i < 120; i++ {
		products = append(products, g.product(i))
	}
	var rows []*node
	for i := 0; i < 40; i++ {
		rows = append(rows, g.orderRow(i))
	}
	var navLinks []*node
	for _, l := range []string{"New", "Women", "Men", "Kids", "Sale", "Stores"} {
		navLinks = append(navLinks, g.el("li", map[string]string{"class": "nav__item"},
			g.el("a", map[string]string{"class": "nav__link", "href": "/c/" + strings.ToLower(l) + "?utm_source=nav&utm_medium=header"}, g.text(l), g.svgIcon())))
	}
	form := g.el("form", map[string]string{"id": "checkout-form", "action": "/checkout?step=2", "method": "post"},
		g.el("input", map[string]string{"type": "hidden", "name": "csrf_token", "value": "f3a9c2e1b7d84f6a9e0c1b2d3e4f5a6b"}),
		g.el("label", map[string]string{"for": "email"}, g.text("Email address")),
		g.el("input", map[string]string{"type": "email", "id": "email", "name": "email", "autocomplete": "email", "placeholder": "you@example.com"}),
		g.el("label", map[string]string{"for": "phone"}, g.text("Phone (+1 555-867-5309 format)")),
		g.el("input", map[string]string{"type": "tel", "id": "phone", "value": "+1 (415) 555-0134"}),
		g.el("input", map[string]string{"type": "text", "id": "promo", "value": "SPRING-2024-15OFF"}),
		g.el("button", map[string]string{"type": "submit", "class": "btn btn-primary"}, g.text("Continue to payment")),
	)
	account := g.el("section", map[string]string{"class": "account", "data-user-id": "u_8f7e6d5c4b3a"},
		g.el("h2", nil, g.text("Hi Jane, welcome back")),
		g.el("p", nil, g.text("Signed in as jane.doe@example.org · Member since 2019 · Last login from 203.0.113.42")),
		g.el("table", map[string]string{"class": "orders"}, g.el("tbody", nil, rows...)),
	)
	body := g.el("body", map[string]string{"class": "page-product theme-light", "data-build": "2024.01.15-1432", "data-version": "4.12.0"},
		g.el("header", map[string]string{"class": "site-header"},
			g.el("nav", map[string]string{"aria-label": "Main"}, g.el("ul", map[string]string{"class": "nav"}, navLinks...))),
		g.nest(g.el("main", map[string]string{"id": "main", "class": "container"},
			g.el("section", map[string]string{"class": "grid"}, products...),
			form, account,
		), 14),
		g.el("footer", map[string]string{"class": "site-footer"},
			g.el("p", nil, g.text("Questions? Write to support@shop.example.com or call 1-800-555-0199. Example Shop GmbH, IBAN DE89 3704 0044 0532 0130 00, VAT DE123456789.")),
			g.el("p", map[string]string{"class": "legal"}, g.text("© 2024 Example Shop. Build 4.12.0 (c0ffee1). Version 10.15.7 · Prices incl. 19% VAT · Order hotline 0800 123 4567.")),
			&node{Type: 5, TextContent: str(" rendered by web-7f9c in 38ms, trace 4bf92f3577b34da6a3ce929d0e0e4736 "), ID: g.id()},
		),
	)
	html := g.el("html", map[string]string{"lang": "en"}, head, body)
	return &node{Type: 0, ChildNodes: []*node{doctype, html}, CompatMode: "CSS1Compat", ID: docID}
}

func (g *gen) tick(ms int) int64 { g.ts += int64(ms); return g.ts }

func (g *gen) add(typ int, data any, ms int) {
	g.events = append(g.events, event{Type: typ, Data: data, Timestamp: g.tick(ms)})
}

func (g *gen) anyID() int { return g.ids[g.r.IntN(len(g.ids))] }

func (g *gen) incremental() {
	switch k := g.r.IntN(100); {
	case k < 45: // mouse moves
		var pos []map[string]int
		for j := 0; j < 5+g.r.IntN(10); j++ {
			pos = append(pos, map[string]int{"x": g.r.IntN(1440), "y": g.r.IntN(900), "id": g.anyID(), "timeOffset": -g.r.IntN(500)})
		}
		g.add(3, map[string]any{"source": 1, "positions": pos}, 50)
	case k < 60:
		g.add(3, map[string]any{"source": 3, "id": 1, "x": 0, "y": g.r.IntN(8000)}, 30)
	case k < 70:
		g.add(3, map[string]any{"source": 2, "type": g.r.IntN(7), "id": g.anyID(), "x": g.r.IntN(1440), "y": g.r.IntN(900), "pointerType": 0}, 120)
	case k < 75:
		texts := []string{"running shoes", "*****", "trail runner size 42", "Jane Doe", "jane.doe@example.org", "4111 1111 1111 1111"}
		g.add(3, map[string]any{"source": 5, "text": g.pick(texts), "isChecked": false, "id": g.anyID()}, 200)
	case k < 92: // mutations
		var adds []map[string]any
		for j := 0; j < 1+g.r.IntN(4); j++ {
			adds = append(adds, map[string]any{"parentId": g.anyID(), "nextId": nil, "node": g.product(g.r.IntN(1000))})
		}
		g.add(3, map[string]any{
			"source": 0,
			"texts":  []map[string]any{{"id": g.texts[g.r.IntN(len(g.texts))], "value": fmt.Sprintf("$%d.%02d", g.r.IntN(300), g.r.IntN(100))}},
			"attributes": []map[string]any{
				{"id": g.anyID(), "attributes": map[string]any{"class": "product-card is-hovered", "style": map[string]string{"transform": fmt.Sprintf("translateY(%dpx)", -g.r.IntN(8))}}},
				{"id": g.anyID(), "attributes": map[string]any{"aria-expanded": "true", "data-state": "open"}},
			},
			"removes": []map[string]int{{"parentId": g.anyID(), "id": g.anyID()}},
			"adds":    adds,
		}, 80)
	case k < 96:
		msgs := []string{
			"[cart] item added sku=SKU-004211-07 qty=1 total=129.90",
			"GET https://api.shop.example.com/v2/cart?session=9c1f4e2ab77d&locale=en-US 200 (143 ms)",
			"Warning: Each child in a list should have a unique \"key\" prop. Check the render method of `ProductGrid`.",
			"analytics ready v3.2.1 build 20240115.1432",
			"user context {\"id\":\"u_8f7e6d5c4b3a\",\"email\":\"jane.doe@example.org\",\"plan\":\"member\"}",
			"TypeError: Cannot read properties of undefined (reading 'price') at https://cdn.shop.example.com/js/app.4f3a2b1c.js:1:52311",
		}
		g.add(6, map[string]any{"plugin": "rrweb/console@1", "payload": map[string]any{
			"level":   g.pick([]string{"log", "info", "warn", "error"}),
			"trace":   []string{"ProductGrid.render (https://cdn.shop.example.com/js/app.4f3a2b1c.js:1:52311)", "https://cdn.shop.example.com/js/vendor.9e8d7c6b.js:2:10442"},
			"payload": []string{fmt.Sprintf("%q", g.pick(msgs))},
		}}, 40)
	default:
		g.add(5, map[string]any{"tag": "network", "payload": map[string]any{
			"method": "POST", "url": "https://api.shop.example.com/v2/checkout?step=payment&token=tok_1Nv8cH2eZvKYlo2C",
			"status": 200, "durationMs": 143 + g.r.IntN(400),
			"requestHeaders": map[string]string{
				"content-type":  "application/json",
				"authorization": "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1XzhmN2U2ZDVjNGIzYSIsImlhdCI6MTcwNTMzMjAwMH0.dGhpc2lzbm90YXJlYWxzaWduYXR1cmVfMTIzNDU2",
				"x-request-id":  fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", g.r.Uint32(), g.r.IntN(65536), g.r.IntN(4096), g.r.IntN(4096), g.r.Uint64()&0xffffffffffff),
			},
			"requestBody":  `{"email":"jane.doe@example.org","items":[{"sku":"SKU-004211-07","qty":1}],"card":{"number":"4242 4242 4242 4242","exp":"12/27"}}`,
			"responseBody": `{"orderId":"ORD-2024-0115-88231","status":"confirmed","eta":"2024-01-19T12:00:00Z"}`,
		}}, 150)
	}
}

func main() {
	out := flag.String("o", "testdata/recording.json", "output file")
	n := flag.Int("events", 1400, "incremental events after the full snapshot")
	flag.Parse()
	g := &gen{r: rand.New(rand.NewPCG(1, 2)), ts: 1705332000000}
	g.add(4, map[string]any{"href": "https://shop.example.com/products/trail-runner-2?utm_source=newsletter&utm_campaign=spring&email=jane.doe%40example.org", "width": 1440, "height": 900}, 0)
	g.add(2, map[string]any{"node": g.fullSnapshot(), "initialOffset": map[string]int{"left": 0, "top": 0}}, 12)
	for i := 0; i < *n; i++ {
		g.incremental()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(g.events); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, bytes.TrimSpace(buf.Bytes()), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d events, %d bytes\n", *out, len(g.events), buf.Len())
}
