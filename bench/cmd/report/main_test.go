package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInjectionVerdict(t *testing.T) {
	injected := Probe{Status: 200, TagCount: 1, Intact: true}
	run := func(rps float64, size int, p Probe) Run {
		p.WireBytes = size
		return Run{HTML: true, Wrk: &Wrk{Requests: 100, RPS: rps, BytesPerReq: 1}, Probe: &p}
	}
	sub := run(1000, 10000, injected)
	tests := []struct {
		name string
		rg   Run
		want string
	}{
		{"faster, same size", run(1200, 10300, injected), "**met**"},
		{"slower, same size", run(900, 9800, injected), "**not met**"},
		{"faster, much smaller", run(1100, 8000, injected), "met (smaller output too)"},
		{"slower, much smaller", run(900, 8000, injected), "not met (output smaller, so not like for like)"},
		{"faster, much larger", run(3000, 12000, injected), "not met: output larger than ±5%"},
		{"no injection", run(3000, 10000, Probe{Status: 200, Intact: true}), "not met: replaygate did not inject (cleanly)"},
		{"injected but body changed", run(3000, 10000, Probe{Status: 200, TagCount: 1}), "not met: replaygate did not inject (cleanly)"},
	}
	for _, tt := range tests {
		if got := injectionVerdict("s", tt.rg, sub).result; got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	errRun := run(2000, 10000, injected)
	errRun.Wrk.Non2xx = 3
	if got := injectionVerdict("s", errRun, sub).result; got != "not met: errors during the run" {
		t.Errorf("errors: %q", got)
	}
}

func TestPassthroughVerdict(t *testing.T) {
	asset := func(peer string, rps float64, enc string, size int) Run {
		return Run{Scenario: "asset-100k", Peer: peer, Wrk: &Wrk{Requests: 100, RPS: rps}, Probe: &Probe{Status: 200, Intact: true, Encoding: enc, WireBytes: size}}
	}
	tests := []struct {
		rg   Run
		want string
	}{
		{asset("replaygate", 95, "br", 100), "**met**"},
		{asset("replaygate", 85, "br", 100), "**not met**"},
		{asset("replaygate", 120, "", 300), "not met: not passed through (identity, 300 bytes; bare: br, 100 bytes)"},
	}
	for _, tt := range tests {
		index := map[[2]string]Run{{"asset-100k", "bare"}: asset("bare", 100, "br", 100), {"asset-100k", "replaygate"}: tt.rg}
		v := verdicts(input{}, index, []string{"asset-100k"})
		if len(v) != 1 || v[0].result != tt.want {
			t.Errorf("%+v: %+v, want %q", tt.rg.Probe, v, tt.want)
		}
	}
}

func TestRenderFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("meta.json", `{"date":"d","command":"./bench/run.sh","machine":"m","load":"1"}`)
	write("runs.jsonl", `{"scenario":"asset-100k","peer":"bare","html":false,"cpu_s":1,"wrk":{"requests":1000,"rps":100,"bytes_per_req":50},"probe":{"status":200,"intact":true,"wire_bytes":40}}
{"scenario":"asset-100k","peer":"replaygate","html":false,"conns":32,"cpu_s":1,"wrk":{"requests":500,"rps":50,"bytes_per_req":50},"probe":{"status":200,"intact":true,"wire_bytes":40}}
{"scenario":"asset-100k","peer":"replaygate","html":false,"conns":32,"cpu_s":1,"wrk":{"requests":850,"rps":85,"bytes_per_req":50},"probe":{"status":200,"intact":true,"wire_bytes":40}}
`)
	write("ttfb.jsonl", `{"peer":"bare","mode":"primed","result":{"n":5,"first_body_byte_p50_ms":1}}
{"peer":"replaygate","mode":"primed","result":{"n":5,"first_body_byte_p50_ms":1.2}}
{"peer":"bare","result":{"n":5,"first_body_byte_p50_ms":10}}
{"peer":"replaygate","result":{"n":5,"first_body_byte_p50_ms":10.5}}
`)
	write("inflight.jsonl", `{"peer":"replaygate","accept":"gzip","result":{"k":8,"held":8,"basis":"heap_inuse","per_response_kb":300}}`)
	var in input
	if err := in.load(dir); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	render(&out, in)
	s := out.String()
	for _, want := range []string{
		"| passthrough ≥ 0.9× bare proxy | asset-100k | 85 vs 100 req/s = 0.85× | **not met** |",
		"| TTFB of 10 MB page within 10% of bare proxy | first body byte, p50, back-to-back | 10.50 vs 10.00 ms = 1.05×",
		"| TTFB of 10 MB page within 10% of bare proxy | first body byte, p50, primed | 1.20 vs 1.00 ms = 1.20× (headers: 0.00 vs 0.00 ms) | **not met** |",
		"| primed | replaygate | 5 |",
		"| 300 KB (heap_inuse, K=8) | **not met** |",
		"| asset-100k | 32 | replaygate | identity | 40 | 85 |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}
