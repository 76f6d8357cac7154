package main

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return out.String() + errb.String(), err
}

func TestVersionAndUsage(t *testing.T) {
	out, err := runCmd(t, nil, "", "version")
	if err != nil || !strings.HasPrefix(out, "replaygate ") {
		t.Fatalf("version: %q %v", out, err)
	}
	if _, err := runCmd(t, nil, "", "frobnicate"); err == nil {
		t.Fatal("unknown command accepted")
	}
	if _, err := runCmd(t, nil, ""); err == nil {
		t.Fatal("no command accepted")
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("upstream: http://127.0.0.1:3000\nlisten: \":8080\"\n"), 0o600)
	out, err := runCmd(t, nil, "", "config", "check", good)
	if err != nil || !strings.Contains(out, "is valid") || !strings.Contains(out, "upstream: http://127.0.0.1:3000") {
		t.Fatalf("good config: %q %v", out, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("upstream: ftp://x\n"), 0o600)
	_, err = runCmd(t, nil, "", "config", "check", bad)
	if err == nil || !strings.Contains(err.Error(), `upstream: "ftp://x" must be an http or https URL`) {
		t.Fatalf("bad config: %v", err)
	}
	// The environment completes a file (REPLAYGATE_UPSTREAM).
	partial := filepath.Join(dir, "partial.yaml")
	os.WriteFile(partial, []byte("listen: \":8081\"\n"), 0o600)
	if out, err := runCmd(t, map[string]string{"REPLAYGATE_UPSTREAM": "http://up:1"}, "", "config", "check", partial); err != nil || !strings.Contains(out, "upstream: http://up:1") {
		t.Fatalf("env: %q %v", out, err)
	}
}

func TestServeRefusesBadFlags(t *testing.T) {
	_, err := runCmd(t, nil, "", "serve", "--upstream", "ftp://x", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "must be an http or https URL") {
		t.Fatalf("got %v", err)
	}
	if _, err := runCmd(t, nil, "", "serve", "--nope"); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

func TestScrubCommand(t *testing.T) {
	in := `[{"type":3,"timestamp":1,"data":{"source":0,"texts":[{"id":1,"value":"mail jane@example.com now"}]}}]`
	var zbuf bytes.Buffer
	zw := zlib.NewWriter(&zbuf)
	zw.Write([]byte(in))
	zw.Close()
	var gbuf bytes.Buffer
	gw := gzip.NewWriter(&gbuf)
	gw.Write([]byte(in))
	gw.Close()
	for name, stdin := range map[string]string{"json": in, "zlib": zbuf.String(), "gzip": gbuf.String()} {
		t.Run(name, func(t *testing.T) {
			out, err := runCmd(t, nil, stdin, "scrub")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, "jane@example.com") || !strings.Contains(out, `"timestamp":1`) {
				t.Fatalf("output %q", out)
			}
		})
	}
	file := filepath.Join(t.TempDir(), "rec.json")
	os.WriteFile(file, []byte(in), 0o600)
	if out, err := runCmd(t, nil, "", "scrub", file); err != nil || strings.Contains(out, "jane@") {
		t.Fatalf("file: %q %v", out, err)
	}
	if _, err := runCmd(t, nil, `{"not":"an array"}`, "scrub"); err == nil || !strings.Contains(err.Error(), "not an rrweb event array") {
		t.Fatalf("bad input: %v", err)
	}
}

func TestSidecarProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	if n, changed := sidecarProcs(func(string) string { return "3" }); changed || n != before {
		t.Fatalf("GOMAXPROCS set by the environment: changed to %d", n)
	}
	runtime.GOMAXPROCS(runtime.NumCPU())
	if n, changed := sidecarProcs(func(string) string { return "" }); !changed || n != 2*runtime.NumCPU() || runtime.GOMAXPROCS(0) != n {
		t.Fatalf("got %d (%v), want %d", n, changed, 2*runtime.NumCPU())
	}
	if runtime.NumCPU() > 1 {
		// Fewer threads than CPUs: a container CPU limit chose them.
		runtime.GOMAXPROCS(runtime.NumCPU() - 1)
		if _, changed := sidecarProcs(func(string) string { return "" }); changed {
			t.Fatal("overrode a CPU limit")
		}
	}
}
