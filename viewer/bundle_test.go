package viewer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sourceFiles lists the inputs build.mjs hashes (keep in sync with
// sourceFiles in viewer/web/build.mjs): the build script, the lockfile, the
// TypeScript config and every .ts/.css file under src/.
func sourceFiles(t *testing.T, webDir string) []string {
	t.Helper()
	files := []string{"build.mjs", "package-lock.json", "tsconfig.json"}
	err := filepath.WalkDir(filepath.Join(webDir, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".ts") || strings.HasSuffix(p, ".css")) {
			rel, err := filepath.Rel(webDir, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list web sources: %v", err)
	}
	slices.Sort(files) // JavaScript's default sort: UTF-16 code units, same as bytes for these ASCII names
	return files
}

func sourceHash(t *testing.T, webDir string) string {
	t.Helper()
	h := sha256.New()
	for _, f := range sourceFiles(t, webDir) {
		b, err := os.ReadFile(filepath.Join(webDir, filepath.FromSlash(f)))
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		h.Write([]byte(f + "\x00"))
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestBundleFresh fails when the embedded bundle is missing or was built
// from other sources than the ones in viewer/web: run make web.
func TestBundleFresh(t *testing.T) {
	sub, err := fs.Sub(embedded, "web/dist")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(sub)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if got := sourceHash(t, "web"); got != m.SourceHash {
		t.Fatalf("viewer/web/dist is stale: built from sources with hash %s, the sources now hash to %s; "+
			"rebuild with `cd viewer/web && npm ci && node build.mjs` (make web)", m.SourceHash, got)
	}
	for _, p := range []string{"index.html", "consents.html", "replay.html"} {
		if !slices.Contains(m.Pages, p) {
			t.Errorf("manifest lacks page %s", p)
		}
	}
}

// TestReplayerMatchesRecorder keeps the player's rrweb release the one the
// recorder (inject/web) records with: the Replayer must rebuild exactly what
// that serializer produced.
func TestReplayerMatchesRecorder(t *testing.T) {
	version := func(lockfile string) string {
		t.Helper()
		raw, err := os.ReadFile(lockfile)
		if err != nil {
			t.Fatalf("read %s: %v", lockfile, err)
		}
		var lock struct {
			Packages map[string]struct {
				Version string `json:"version"`
			} `json:"packages"`
		}
		if err := json.Unmarshal(raw, &lock); err != nil {
			t.Fatalf("%s: %v", lockfile, err)
		}
		v := lock.Packages["node_modules/@sentry-internal/rrweb"].Version
		if v == "" {
			t.Fatalf("%s pins no @sentry-internal/rrweb", lockfile)
		}
		return v
	}
	player := version(filepath.Join("web", "package-lock.json"))
	recorder := version(filepath.Join("..", "inject", "web", "package-lock.json"))
	if player != recorder {
		t.Fatalf("viewer plays with @sentry-internal/rrweb %s but the recorder records with %s: pin the same version in viewer/web/package.json", player, recorder)
	}
}
