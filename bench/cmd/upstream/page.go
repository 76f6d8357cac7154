package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// words is the vocabulary of generated copy. It is large enough that the
// pages compress like real ones (gzip-6 keeps roughly a fifth), not like a
// repeated template.
var words = strings.Fields(`
able about above account across action active actual adapt added address advance advice after again against agent agree ahead aim air album alert align allow almost alone along already also alter always amber among amount anchor angle annual answer any apart apple apply april arch area argue arise around arrive art article aspect assist assume attach attempt attend audio author auto autumn avenue average avoid award aware away
back badge bag balance ball band bank bar base basic basket batch beach beam bear beauty become bed before begin behind believe bell below belt bench benefit best better between beyond bicycle big bike bill bind bird birth bit black blade blanket blend block bloom blue board boat body bold bolt bond bone book boost boot border both bottle bottom bowl box brand brass bread break breeze brick bridge brief bright bring broad bronze brown brush budget build bulk bundle burst busy butter button buy
cabin cable cake calm camera camp canvas cap capital card care cargo carry case cash cast casual catch cause cedar ceramic chain chair chalk change charge chart cheap check cherry chest choice circle city classic clay clean clear clever climb clip clock close cloth cloud coast coat coffee coin cold collar color comfort common compact cook cool copper cord core corner cotton couch count cover craft cream crisp cross crown cube cup curve cushion custom cycle
daily damp dark data date dawn deal decade deep delight deliver denim depth desert design desk detail device dial diamond digital dinner direct dish display dock double dough down draft drawer dream dress drift drink drive dry dual durable dusk dust
eager early earth easy echo edge edition effect elegant element else ember empty enable end energy engine enjoy enough entire entry equal error escape essential even evening event every exact example exchange expert express extra
fabric face fair fall family fancy farm fast favorite feather feature fellow felt fiber field figure fill film final find fine finish fire firm first fit flame flat flavor fleece flex flight float floor flower fluid focus fold folk follow food foot forest fork form fossil frame free fresh friend front frost fruit full fun function future
garden gather gear gentle giant gift ginger glass glide global glove glow gold good grace grain grand granite graphite grass gray great green grid grip ground group grove guide
habit half hall hammer hand handle happy harbor hard harvest hat haven head health heart heat heavy height helmet help herb high hill hold hollow home honey hood hook horizon host hour house huge humble
ice icon idea image impact indigo indoor inner input insert inside instant iron island item ivory
jacket jade jar jeans jet jewel join journal journey joy juice jump jungle
keen keep kettle key kind kit kitchen knit knot
label lace lake lamp land lane large laser last late layer lead leaf lean leather ledge left lemon lens level light lily limit linen link lion liquid list live load local lock loft long loop lotus loud lounge low lucky lunar
machine magic main maple marble market mask master match material matte meadow medium melody memory mesh metal method middle mild mill mineral minimal mint mirror mist mixed mobile mode model modern moment moon morning moss motion mount mountain mug music
narrow native natural navy near neat neck needle nest net neutral new night noble north note novel nylon
oak ocean office olive open option orange orbit order organic origin outdoor outer oval oven
pack paddle page paint pair palm panel paper park part pass pastel patch path pattern peak pearl pebble pen pencil people pepper perfect piano pick piece pillow pine pink pipe pitch place plain plan plant plate play pocket point polar polish pond pool portable post pottery powder power press price prime print pro pure purple
quartz queen quick quiet quilt
rack radio rain range rapid rare raven raw ready real record red reef relax remote rest retro rich ridge right ring ripple rise river road robust rock roll roof room root rope rose round route royal rubber rug rugged rust
saddle safe sage sail salt sand satin scale scarf scene scent school screen sea season seat second secure seed select serene set shade shadow shape share sharp shell shelf shield shine shirt shoe short shoulder side signal silk silver simple single sink size sketch skill sky sleek slim slope small smart smooth snow soft solar solid sound south space spark speaker special speed sphere spice spring square stack stand star steam steel stem step stick still stone stool storm story straw stream street strong studio style sugar summer sun super sure swift
table tail tall tan tape task tea teal team tech tempo tender tent terra texture thick thin thread tide tiger timber time tiny tool top torch touch tough tour tower town track trail travel tray tree trend trim trip true trunk tube tulip turn tweed twin
ultra under unique unit upper urban useful
valley value vapor vast velvet vent verse vessel view vintage violet vision vital vivid voice volume
wagon walk wall walnut warm wash watch water wave wax way wear weave wheel white whole wide wild willow wind window wine wing winter wire wise wood wool work world woven
yard year yellow yoga young
zen zero zinc zip zone
`)

var (
	adjectives = []string{"Classic", "Modern", "Rugged", "Compact", "Premium", "Organic", "Vintage", "Lightweight", "Handmade", "Everyday", "Ultra", "Heritage", "Coastal", "Nordic", "Urban", "Essential"}
	materials  = []string{"Linen", "Walnut", "Ceramic", "Steel", "Wool", "Leather", "Bamboo", "Cotton", "Oak", "Glass", "Copper", "Canvas", "Marble", "Brass", "Cork", "Felt"}
	nouns      = []string{"Lamp", "Chair", "Mug", "Backpack", "Blanket", "Desk", "Kettle", "Jacket", "Bottle", "Planter", "Shelf", "Tote", "Clock", "Sneaker", "Speaker", "Notebook", "Pillow", "Vase", "Stool", "Scarf"}
	sections   = []string{"Home", "Kitchen", "Outdoor", "Office", "Apparel", "Gifts", "Sale", "New in", "Journal", "Stores"}
)

// product is one generated catalogue item; it appears both as a card and in
// the page's inline JSON state, as server-rendered shops do.
type product struct {
	SKU         string   `json:"sku"`
	Name        string   `json:"name"`
	Slug        string   `json:"slug"`
	Price       float64  `json:"price"`
	Was         float64  `json:"was,omitempty"`
	Rating      float64  `json:"rating"`
	Reviews     int      `json:"reviews"`
	Stock       int      `json:"stock"`
	Image       string   `json:"image"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
}

// generator writes deterministic pseudo-random markup.
type generator struct {
	r *rand.Rand
	b strings.Builder
}

func newGenerator(seed uint64) *generator {
	return &generator{r: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

func (g *generator) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *generator) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}

// sentence returns n..n+k words, capitalised, with a full stop.
func (g *generator) sentence(min, spread int) string {
	n := min + g.r.IntN(spread+1)
	var s strings.Builder
	for i := range n {
		w := g.pick(words)
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		} else {
			s.WriteByte(' ')
		}
		s.WriteString(w)
		if i > 0 && i < n-1 && g.r.IntN(12) == 0 {
			s.WriteByte(',')
		}
	}
	s.WriteByte('.')
	return s.String()
}

func (g *generator) paragraph(sentences int) string {
	parts := make([]string, sentences)
	for i := range parts {
		parts[i] = g.sentence(6, 14)
	}
	return strings.Join(parts, " ")
}

func (g *generator) product() product {
	name := g.pick(adjectives) + " " + g.pick(materials) + " " + g.pick(nouns)
	price := float64(500+g.r.IntN(30000)) / 100
	p := product{
		SKU:         fmt.Sprintf("SKU-%06d", g.r.IntN(1000000)),
		Name:        name,
		Slug:        strings.ToLower(strings.ReplaceAll(name, " ", "-")) + "-" + g.hex(6),
		Price:       price,
		Rating:      float64(30+g.r.IntN(21)) / 10,
		Reviews:     g.r.IntN(4000),
		Stock:       g.r.IntN(120),
		Image:       "/media/catalog/" + g.hex(2) + "/" + g.hex(2) + "/" + g.hex(24) + ".webp",
		Description: g.sentence(10, 18),
	}
	if g.r.IntN(4) == 0 {
		p.Was = price * 1.25
	}
	for range 1 + g.r.IntN(3) {
		p.Tags = append(p.Tags, g.pick(words))
	}
	return p
}

func (g *generator) w(format string, args ...any) { fmt.Fprintf(&g.b, format, args...) }

// head writes a realistic document head: metas, preloads, stylesheets,
// analytics and structured data. It contains exactly one "<head>" start tag.
func (g *generator) head(title string) {
	g.w("<!DOCTYPE html>\n<html lang=\"en\" class=\"no-js\">\n<head>\n")
	g.w("<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	g.w("<title>%s | Northwind Goods</title>\n", title)
	g.w("<meta name=\"description\" content=\"%s\">\n", g.sentence(14, 8))
	g.w("<meta property=\"og:title\" content=\"%s\">\n<meta property=\"og:type\" content=\"website\">\n", title)
	g.w("<meta property=\"og:image\" content=\"https://cdn.northwind.example/og/%s.jpg\">\n", g.hex(20))
	g.w("<link rel=\"canonical\" href=\"https://www.northwind.example/c/%s\">\n", strings.ToLower(strings.ReplaceAll(title, " ", "-")))
	g.w("<link rel=\"preconnect\" href=\"https://cdn.northwind.example\" crossorigin>\n")
	g.w("<link rel=\"preload\" href=\"/static/fonts/inter-var.%s.woff2\" as=\"font\" type=\"font/woff2\" crossorigin>\n", g.hex(8))
	for _, name := range []string{"base", "layout", "catalog"} {
		g.w("<link rel=\"stylesheet\" href=\"/static/css/%s.%s.css\">\n", name, g.hex(10))
	}
	g.w("<link rel=\"icon\" href=\"/favicon.ico\" sizes=\"any\">\n")
	g.w("<style>:root{--brand:#1f4b3f;--accent:#e07a2e;--radius:6px}.card{border-radius:var(--radius);padding:12px}.price{font-weight:600}.was{text-decoration:line-through;color:#777}</style>\n")
	g.w("<script>document.documentElement.className=document.documentElement.className.replace('no-js','js');window.dataLayer=window.dataLayer||[];</script>\n")
	g.w("<script src=\"/static/app.js\" defer></script>\n")
	g.w("<script async src=\"https://analytics.northwind.example/tag.js?id=NW-%s\"></script>\n", strings.ToUpper(g.hex(8)))
	g.w("<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@type\":\"Organization\",\"name\":\"Northwind Goods\",\"url\":\"https://www.northwind.example\",\"logo\":\"https://cdn.northwind.example/logo.svg\"}</script>\n")
	g.w("</head>\n")
}

func (g *generator) nav() {
	g.w("<header class=\"site-header\">\n<a class=\"logo\" href=\"/\" aria-label=\"Northwind Goods home\"><svg width=\"120\" height=\"28\" viewBox=\"0 0 120 28\"><path d=\"M4 24V4h4l10 13V4h4v20h-4L8 11v13z\" fill=\"currentColor\"/></svg></a>\n<nav aria-label=\"Main\">\n<ul class=\"menu\">\n")
	for _, s := range sections {
		g.w("<li class=\"menu-item\"><a href=\"/c/%s\" data-track=\"nav-%s\">%s</a></li>\n", strings.ToLower(strings.ReplaceAll(s, " ", "-")), g.hex(4), s)
	}
	g.w("</ul>\n</nav>\n<form class=\"search\" action=\"/search\" method=\"get\"><input type=\"search\" name=\"q\" placeholder=\"Search products\" aria-label=\"Search\"><button type=\"submit\">Search</button></form>\n</header>\n")
}

func (g *generator) card(p product) {
	g.w("<article class=\"card product\" data-sku=\"%s\" data-position=\"%d\">\n", p.SKU, g.r.IntN(500))
	g.w("<a href=\"/p/%s?ref=grid\" class=\"card-link\"><img src=\"%s\" alt=\"%s\" loading=\"lazy\" width=\"320\" height=\"320\"></a>\n", p.Slug, p.Image, p.Name)
	g.w("<h3 class=\"card-title\"><a href=\"/p/%s\">%s</a></h3>\n", p.Slug, p.Name)
	if p.Was > 0 {
		g.w("<p class=\"price\"><span class=\"now\">$%.2f</span> <span class=\"was\">$%.2f</span></p>\n", p.Price, p.Was)
	} else {
		g.w("<p class=\"price\"><span class=\"now\">$%.2f</span></p>\n", p.Price)
	}
	g.w("<p class=\"rating\" aria-label=\"Rated %.1f out of 5\">%.1f &#9733; <span>(%d reviews)</span></p>\n", p.Rating, p.Rating, p.Reviews)
	g.w("<p class=\"desc\">%s</p>\n", p.Description)
	g.w("<form action=\"/cart/add\" method=\"post\"><input type=\"hidden\" name=\"sku\" value=\"%s\"><button class=\"btn add\" type=\"submit\">Add to cart</button></form>\n</article>\n", p.SKU)
}

func (g *generator) state(products []product) {
	g.w("<script id=\"__STATE__\" type=\"application/json\">{\"page\":{\"id\":\"%s\",\"locale\":\"en-US\",\"currency\":\"USD\"},\"products\":[", g.hex(16))
	for i, p := range products {
		if i > 0 {
			g.b.WriteByte(',')
		}
		g.w("{\"sku\":%q,\"name\":%q,\"slug\":%q,\"price\":%.2f,\"rating\":%.1f,\"reviews\":%d,\"stock\":%d,\"image\":%q,\"tags\":[", p.SKU, p.Name, p.Slug, p.Price, p.Rating, p.Reviews, p.Stock, p.Image)
		for j, t := range p.Tags {
			if j > 0 {
				g.b.WriteByte(',')
			}
			g.w("%q", t)
		}
		g.b.WriteString("]}")
	}
	g.w("]}</script>\n")
}

func (g *generator) footer() {
	g.w("<footer class=\"site-footer\">\n<div class=\"cols\">\n")
	for range 4 {
		g.w("<div class=\"col\"><h4>%s</h4><ul>", g.pick(sections))
		for range 5 {
			w := g.pick(words)
			g.w("<li><a href=\"/info/%s\">%s</a></li>", w, strings.ToUpper(w[:1])+w[1:])
		}
		g.w("</ul></div>\n")
	}
	g.w("</div>\n<p class=\"legal\">&copy; 2026 Northwind Goods. %s</p>\n</footer>\n", g.sentence(8, 6))
	g.w("<script>window.addEventListener('load',function(){window.dataLayer.push({event:'page_view',t:Date.now()})});</script>\n")
	g.w("</body>\n</html>\n")
}

// generatePage returns a catalogue page of about size bytes: the head,
// navigation, a grid of product cards interleaved with editorial copy, and
// the inline JSON state of every card, flushed in batches of 24 cards like a
// paginated server-rendered grid.
func generatePage(seed uint64, size int) []byte {
	g := newGenerator(seed)
	title := g.pick(sections) + " " + g.pick(nouns) + "s"
	g.head(title)
	g.w("<body class=\"catalog theme-light\" data-page=\"%s\">\n", g.hex(12))
	g.nav()
	g.w("<main id=\"main\">\n<h1>%s</h1>\n<p class=\"intro\">%s</p>\n", title, g.paragraph(3))
	const tail = 1600 // room for the footer
	var batch []product
	for g.b.Len() < size-tail {
		g.w("<section class=\"grid\" aria-label=\"Products\">\n")
		for range 24 {
			p := g.product()
			batch = append(batch, p)
			g.card(p)
			if g.b.Len() >= size-tail-len(batch)*260 {
				break
			}
		}
		g.w("</section>\n")
		g.state(batch)
		batch = batch[:0]
		if g.b.Len() < size-tail-2000 {
			g.w("<section class=\"editorial\"><h2>%s</h2><p>%s</p><p>%s</p></section>\n", g.sentence(3, 4), g.paragraph(4), g.paragraph(3))
		}
	}
	g.w("</main>\n")
	g.footer()
	return []byte(g.b.String())
}

// generateScript returns about size bytes of minified-looking JavaScript.
func generateScript(seed uint64, size int) []byte {
	g := newGenerator(seed)
	g.w("/*! northwind app v4.12.3 | (c) 2026 Northwind Goods */\n\"use strict\";(()=>{")
	ident := func() string {
		const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$"
		n := 1 + g.r.IntN(3)
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[g.r.IntN(len(letters))]
		}
		return string(b)
	}
	for g.b.Len() < size-64 {
		switch g.r.IntN(5) {
		case 0:
			g.w("function %s(%s,%s){return %s.%s(%s)||%d}", ident(), ident(), ident(), ident(), g.pick(words), ident(), g.r.IntN(1000))
		case 1:
			g.w("var %s=document.querySelectorAll(\".%s-%s\");", ident(), g.pick(words), g.pick(words))
		case 2:
			g.w("const %s={%s:%q,%s:%d,%s:!%d};", ident(), g.pick(words), g.pick(words)+"-"+g.hex(4), g.pick(words), g.r.IntN(10000), g.pick(words), g.r.IntN(2))
		case 3:
			g.w("if(%s&&%s.%s){%s.addEventListener(\"%s\",function(%s){%s.preventDefault();%s(%s)})}", ident(), ident(), g.pick(words), ident(), g.pick([]string{"click", "submit", "input", "change", "keydown"}), ident(), ident(), ident(), ident())
		default:
			g.w("%s.prototype.%s=function(%s){this.%s=%s;return this};", ident(), g.pick(words), ident(), g.pick(words), ident())
		}
	}
	g.w("})();\n")
	return []byte(g.b.String())
}
