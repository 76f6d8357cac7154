package inject

import "html"

// Markup renders the injected tag for one response. nonce is "" when no
// Content-Security-Policy needs one. The result must be the same for every
// visitor apart from the nonce: a CDN may serve one visitor's page to another.
type Markup func(nonce string) []byte

// DefaultMarkup returns the gate loader:
// `<script src="{prefix}/gate.js" async="" nonce="…"></script>`.
// async is written as async="" so the tag is also well-formed XML for
// application/xhtml+xml pages; HTML treats it exactly like a bare async.
func DefaultMarkup(prefix string) Markup {
	head := []byte(`<script src="` + html.EscapeString(prefix) + `/gate.js" async=""`)
	return func(nonce string) []byte {
		b := make([]byte, 0, len(head)+len(nonce)+20)
		b = append(b, head...)
		if nonce != "" {
			b = append(b, ` nonce="`...)
			b = append(b, html.EscapeString(nonce)...)
			b = append(b, '"')
		}
		return append(b, "></script>"...)
	}
}
