package web

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sourceFiles lists the build inputs exactly as build.mjs hashes them.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"build.mjs", "package-lock.json", "tsconfig.json"}
	entries, err := os.ReadDir("src")
	if err != nil {
		t.Fatalf("read src: %v", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".ts") {
			files = append(files, "src/"+e.Name())
		}
	}
	sort.Strings(files)
	return files
}

// TestBundleFresh fails when dist/ is missing or was built from other sources.
func TestBundleFresh(t *testing.T) {
	dist, err := fs.Sub(distFS, "dist")
	if err != nil {
		t.Fatal(err)
	}
	m, err := readManifest(dist)
	if err != nil {
		t.Fatalf("%v", err)
	}
	h := sha256.New()
	for _, f := range sourceFiles(t) {
		b, err := os.ReadFile(filepath.FromSlash(f))
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(f + "\x00"))
		h.Write(b)
		h.Write([]byte{0})
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SourceHash {
		t.Fatalf("browser bundle is stale: sources hash %s, dist/manifest.json says %s: run `%s`", got[:12], m.SourceHash[:12], BuildCommand)
	}
}

// TestBundleBudget reports the served sizes and enforces the size budgets.
func TestBundleBudget(t *testing.T) {
	a := newTestAssets(t, DefaultConfig())
	budgets := []struct {
		name  string
		sizes Sizes
		max   int
	}{
		{"gate.js", a.GateSizes(), 5 << 10},
		{"recorder.js", a.RecorderSizes(), 30 << 10},
	}
	for _, b := range budgets {
		t.Logf("%-12s %7d bytes, %6d gzip, %6d br (budget %d gzip)", b.name, b.sizes.Identity, b.sizes.Gzip, b.sizes.Brotli, b.max)
		if b.sizes.Gzip > b.max {
			t.Errorf("%s is %d bytes gzipped, over the %d budget", b.name, b.sizes.Gzip, b.max)
		}
	}
}
