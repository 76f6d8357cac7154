package viewer

import "embed"

// embedded is viewer/web/dist as built by `node build.mjs`; "all:" keeps the
// placeholder dist/.keep so the package compiles before the first build (New
// then fails with a hint to build).
//
//go:embed all:web/dist
var embedded embed.FS
