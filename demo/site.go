package demo

import (
	"compress/gzip"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed site
var files embed.FS

// Product is one item of the demo catalogue.
type Product struct {
	ID    int
	Name  string
	Price string
	Color string
	Blurb string
}

var catalogue = []Product{
	{1, "Ridgeline 40L Backpack", "149.00", "#2f6f4f", "A weatherproof pack for long days above the tree line."},
	{2, "Summit Down Jacket", "229.00", "#8a3b2e", "800-fill down, packs into its own pocket."},
	{3, "Trailhead Hiking Boots", "189.00", "#6b4f2a", "Waterproof leather with a grippy outsole."},
	{4, "Alpine Trekking Poles", "89.00", "#3d4f6b", "Carbon, adjustable, under 500 grams the pair."},
	{5, "Basecamp 2P Tent", "349.00", "#5b6b2f", "Two doors, two vestibules, three seasons."},
	{6, "Headlamp 400", "39.00", "#6b2f5b", "400 lumens, rechargeable, red night mode."},
}

// Site is the demo shop's handler.
type Site struct {
	tmpl   *template.Template
	static http.Handler
	mux    *http.ServeMux
	now    func() time.Time
}

// New returns the demo site.
func New() *Site {
	s := &Site{now: time.Now}
	s.tmpl = template.Must(template.New("").Funcs(template.FuncMap{"now": func() string { return s.now().Format("15:04:05") }}).
		ParseFS(files, "site/templates/*.html"))
	sub, _ := fs.Sub(files, "site/static")
	s.static = http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", s.page("home", nil))
	s.mux.HandleFunc("GET /products/{id}", s.product)
	s.mux.HandleFunc("GET /signup", s.page("signup", nil))
	s.mux.HandleFunc("POST /signup", s.signup)
	s.mux.HandleFunc("GET /search", s.search)
	s.mux.HandleFunc("GET /account", s.page("account", nil))
	s.mux.HandleFunc("GET /live", s.page("live", nil))
	s.mux.HandleFunc("GET /privacy", s.page("privacy", func(_ *http.Request, d *pageData) { d.Title = "Privacy notice" }))
	s.mux.HandleFunc("GET /api/stock", s.stock)
	s.mux.HandleFunc("GET /img/{id}", s.image)
	s.mux.Handle("GET /static/", s.static)
	return s
}

func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type pageData struct {
	Title    string
	Nonce    string
	Products []Product
	Product  *Product
	Query    string
	Results  []Product
	Name     string
	Data     any
}

func (s *Site) page(name string, data func(*http.Request, *pageData)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := &pageData{Products: catalogue}
		if data != nil {
			data(r, d)
		}
		s.render(w, r, name, d)
	}
}

// render writes a page with a fresh CSP nonce, gzipped when accepted.
func (s *Site) render(w http.ResponseWriter, r *http.Request, name string, d *pageData) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	d.Nonce = base64.RawURLEncoding.EncodeToString(b[:])
	if d.Title == "" {
		d.Title = strings.ToUpper(name[:1]) + name[1:]
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'nonce-"+d.Nonce+"' 'strict-dynamic'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	var out io.Writer = w
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		defer gz.Close()
		out = gz
	}
	if err := s.tmpl.ExecuteTemplate(out, name+".html", d); err != nil {
		fmt.Fprint(out, "<p>template error</p>")
	}
}

func (s *Site) product(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	if id < 1 || id > len(catalogue) {
		http.NotFound(w, r)
		return
	}
	p := catalogue[id-1]
	s.render(w, r, "product", &pageData{Title: p.Name, Product: &p, Products: catalogue})
}

func (s *Site) signup(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		name = "there"
	}
	s.render(w, r, "welcome", &pageData{Title: "Welcome", Name: name})
}

func (s *Site) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	var res []Product
	for _, p := range catalogue {
		if q != "" && strings.Contains(strings.ToLower(p.Name+" "+p.Blurb), strings.ToLower(q)) {
			res = append(res, p)
		}
	}
	s.render(w, r, "search", &pageData{Title: "Search", Query: q, Results: res, Products: catalogue})
}

func (s *Site) stock(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	t := s.now()
	fmt.Fprint(w, `{"items":[`)
	for i, p := range catalogue {
		if i > 0 {
			fmt.Fprint(w, ",")
		}
		fmt.Fprintf(w, `{"id":%d,"name":%q,"left":%d}`, p.ID, p.Name, (t.Second()*7+p.ID*13)%40)
	}
	fmt.Fprintf(w, `],"at":%q}`, t.Format(time.RFC3339))
}

// image draws a product picture as SVG, so the site has real images for
// the recorder to block.
func (s *Site) image(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(strings.TrimSuffix(r.PathValue("id"), ".svg"))
	if id < 1 || id > len(catalogue) {
		http.NotFound(w, r)
		return
	}
	p := catalogue[id-1]
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200" viewBox="0 0 320 200">`+
		`<rect width="320" height="200" fill="%s"/><path d="M0 170 L90 70 L150 130 L210 50 L320 170 Z" fill="#ffffff" fill-opacity=".25"/>`+
		`<circle cx="260" cy="45" r="18" fill="#ffe9a8"/><text x="16" y="190" font-family="sans-serif" font-size="14" fill="#fff">%s</text></svg>`,
		p.Color, template.HTMLEscapeString(p.Name))
}
