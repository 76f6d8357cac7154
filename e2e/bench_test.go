package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"

	"github.com/replaygate/replaygate/config"
)

// overhead is what one variant cost on the mutation-heavy page in a window.
type overhead struct {
	scriptSec float64 // main-thread script time (CDP Performance ScriptDuration)
	taskSec   float64 // all main-thread task time (TaskDuration)
	wire, raw int     // uploaded bytes: on the wire, and as decoded JSON
}

func metrics(tb testing.TB, ctx context.Context) map[string]float64 {
	tb.Helper()
	res, err := chromedp.Run(ctx, chromedp.Action[performance.GetMetricsResult](
		func(ctx context.Context, t *chromedp.Target) (performance.GetMetricsResult, error) {
			return cdp.Call(ctx, t, performance.GetMetrics, cdp.Empty{})
		}))
	if err != nil {
		tb.Fatalf("Performance.getMetrics: %v", err)
	}
	m := map[string]float64{}
	for _, x := range res.Metrics {
		m[x.Name] = x.Value
	}
	return m
}

// measure runs testdata/bench.html with one variant ("none", "plain", "ours")
// for window and reports main-thread time and uploaded bytes in that window.
func measure(tb testing.TB, variant string, window time.Duration) overhead {
	// /raw/ pages pass replaygate without the gate: the "none" and "plain"
	// variants; "ours" is the page as replaygate injects it.
	s := startStack(tb, func(c *config.Config) { c.Inject.ExcludePaths = []string{"/raw/"} })
	ctx := newBrowser(tb)
	do(tb, ctx, chromedp.Navigate(s.URL+"/raw/bench.html?variant=none"))
	// Grant consent first so our recorder runs without the banner.
	if code := postFromPage(tb, ctx, prefix+"/consent", `{"decision":"granted","language":"en"}`); code != http.StatusNoContent {
		tb.Fatalf("grant: %d", code)
	}
	page := "/raw/bench.html?variant=" + variant
	if variant == "ours" {
		page = "/bench.html"
	}
	do(tb, ctx, chromedp.Navigate(s.URL+page))
	if _, err := chromedp.Run(ctx, chromedp.Action[cdp.Empty](func(ctx context.Context, t *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, t, performance.Enable, performance.EnableParams{})
	})); err != nil {
		tb.Fatalf("Performance.enable: %v", err)
	}
	time.Sleep(2 * time.Second) // past start-up and the first full snapshot
	before, segs := metrics(tb, ctx), len(s.Segments())
	time.Sleep(window)
	after := metrics(tb, ctx)
	var o overhead
	for _, sg := range s.Segments()[segs:] {
		o.wire += sg.Wire
		o.raw += len(sg.Body)
	}
	o.scriptSec = after["ScriptDuration"] - before["ScriptDuration"]
	o.taskSec = after["TaskDuration"] - before["TaskDuration"]
	return o
}

// BenchmarkRecorderOverhead compares, in one run, the mutation-heavy page with
// no recorder, with rrweb's defaults (uncompressed uploads every 5 s) and
// with our recorder, each variant twice (interleaved, quietest kept). Run
// it alone; it takes about 3 minutes:
//
//	go test ./e2e -run '^$' -bench RecorderOverhead -benchtime 1x
func BenchmarkRecorderOverhead(b *testing.B) {
	cmd := exec.Command("node", "build.mjs", "--bench")
	cmd.Dir = filepath.Join("..", "inject", "web")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build plain-rrweb baseline: %v\n%s", err, out)
	}
	window := 20 * time.Second
	if v := os.Getenv("REPLAYGATE_BENCH_WINDOW"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			window = d
		}
	}
	perMin := func(x float64) float64 { return x * float64(time.Minute) / float64(window) }
	variants := []string{"none", "plain", "ours"}
	if v := os.Getenv("REPLAYGATE_BENCH_VARIANTS"); v != "" {
		variants = strings.Split(v, ",")
	}
	// The machine is shared: interleave the variants over rounds and keep
	// each variant's quietest round.
	rounds := 2
	res := map[string]overhead{}
	for i := 0; i < b.N*rounds; i++ {
		for _, v := range variants {
			o := measure(b, v, window)
			if prev, ok := res[v]; !ok || o.scriptSec < prev.scriptSec {
				res[v] = o
			}
		}
	}
	for _, v := range variants {
		o := res[v]
		b.Logf("%-5s script %6.0f ms/min, tasks %6.0f ms/min, upload %7.1f KB/min on the wire (%7.1f KB/min as JSON)",
			v, perMin(o.scriptSec)*1000, perMin(o.taskSec)*1000, perMin(float64(o.wire))/1024, perMin(float64(o.raw))/1024)
		b.ReportMetric(perMin(o.scriptSec)*1000, v+"-script-ms/min")
		b.ReportMetric(perMin(float64(o.wire))/1024, v+"-upload-KB/min")
	}
	ours, plain := res["ours"], res["plain"]
	if ours.raw > 0 {
		b.ReportMetric(float64(ours.wire)/float64(ours.raw)*100, "ours-wire-%-of-json")
	}
	if ours.scriptSec-res["none"].scriptSec > plain.scriptSec-res["none"].scriptSec {
		b.Logf("note: our script overhead exceeds plain rrweb's in this run")
	}
}
