// Package demo is the built-in demo site that `replaygate demo` serves
// behind the proxy: a small outdoor-gear shop with navigation, a product list
// with images, a sign-up form asking for name, e-mail, card and password, a
// search box, an account page full of personal data, and a page that updates
// itself. Its navigation is marked replay-unmask; everything else shows how
// replaygate masks by default.
//
// The site sends a strict nonce-based Content-Security-Policy and gzips its
// HTML, so the demo exercises the injector's CSP and compression handling.
// It is a real site for demonstration and tests, not part of the proxy.
package demo
