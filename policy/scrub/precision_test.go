package scrub

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

type corpusLine struct {
	kind, text string
	values     []string // «marked» values that must disappear
}

// readCorpus reads "kind<TAB>text" lines; «…» marks values, \n is a newline.
func readCorpus(t testing.TB, path string) []corpusLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kind, text, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: no tab in %q", path, line)
		}
		text = strings.ReplaceAll(text, `\n`, "\n")
		var cl corpusLine
		cl.kind = kind
		for {
			a := strings.Index(text, "«")
			if a < 0 {
				break
			}
			b := strings.Index(text[a:], "»")
			if b < 0 {
				t.Fatalf("%s: unbalanced « in %q", path, line)
			}
			v := text[a+len("«") : a+b]
			cl.values = append(cl.values, v)
			text = text[:a] + v + text[a+b+len("»"):]
		}
		cl.text = text
		out = append(out, cl)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// linesAsEvents wraps each corpus line as a custom rrweb event.
func linesAsEvents(t testing.TB, path string) []byte {
	var evs []map[string]any
	for i, l := range readCorpus(t, path) {
		evs = append(evs, map[string]any{"type": 5, "timestamp": 1705332000000 + i, "data": map[string]any{
			"tag": "corpus", "payload": map[string]any{"kind": l.kind, "text": l.text},
		}})
	}
	b, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPrecisionRecall scrubs the true-positive corpus (every marked value
// must disappear) and the look-alike corpus (nothing may change), prints
// per-detector figures and asserts minimums.
func TestPrecisionRecall(t *testing.T) {
	sc, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	type tally struct{ values, caught, attributed int }
	per := map[string]*tally{}
	truePos := 0 // lines where every value was caught
	tps := readCorpus(t, "testdata/truepositives.txt")
	for _, l := range tps {
		ta := per[l.kind]
		if ta == nil {
			ta = &tally{}
			per[l.kind] = ta
		}
		st := sc.pool.Get().(*state)
		fl, nd := classify([]byte(l.text))
		outB, _ := st.scrubText([]byte(l.text), fl, nd)
		out := string(outB)
		hitOwn := st.hits[indexOf(sc.names, l.kind)] > 0
		sc.put(st)
		all := true
		for _, v := range l.values {
			ta.values++
			if strings.Contains(out, v) {
				all = false
				t.Logf("missed %s: %q -> %q", l.kind, l.text, out)
				continue
			}
			ta.caught++
			if hitOwn {
				ta.attributed++
			}
		}
		if all {
			truePos++
		}
	}
	falsePos := 0
	las := readCorpus(t, "testdata/lookalikes.txt")
	for _, l := range las {
		if out := sc.ScrubString(l.text); out != l.text {
			falsePos++
			t.Logf("false positive (%s): %q -> %q", l.kind, l.text, out)
		}
	}
	var names []string
	for k := range per {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %6s %6s %8s %10s\n", "detector", "values", "caught", "recall", "own-label")
	values, caught := 0, 0
	for _, k := range names {
		ta := per[k]
		values += ta.values
		caught += ta.caught
		fmt.Fprintf(&b, "%-12s %6d %6d %7.1f%% %10d\n", k, ta.values, ta.caught, 100*float64(ta.caught)/float64(ta.values), ta.attributed)
	}
	recall := float64(caught) / float64(values)
	precision := float64(truePos) / float64(truePos+falsePos)
	fmt.Fprintf(&b, "recall %.3f (%d/%d values); look-alike lines changed %d/%d; precision %.3f (%d true / %d false positive lines)\n",
		recall, caught, values, falsePos, len(las), precision, truePos, falsePos)
	t.Log("\n" + b.String())
	if recall < 0.97 {
		t.Errorf("recall %.3f, want >= 0.97", recall)
	}
	if precision < 0.97 {
		t.Errorf("precision %.3f, want >= 0.97", precision)
	}
	if falsePos > 4 {
		t.Errorf("%d look-alikes changed, want <= 4", falsePos)
	}
}

func indexOf(xs []string, x string) int {
	for i, s := range xs {
		if s == x {
			return i
		}
	}
	return -1
}
