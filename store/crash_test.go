package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

const crashChildEnv = "REPLAYGATE_STORE_CRASH_DIR"

// TestKill9KeepsAcknowledgedSegments runs a child process that forwards
// segments as fast as it can and prints each acknowledgement, kills it with
// SIGKILL mid-stream, and checks that every acknowledged segment is there
// after Open, with the replay readable as valid JSON.
func TestKill9KeepsAcknowledgedSegments(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dataDir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9KeepsAcknowledgedSegments$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dataDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := make(map[string]int) // replay id → highest acknowledged seq
	sc := bufio.NewScanner(out)
	n := 0
	for sc.Scan() && n < 150 {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ack" {
			continue
		}
		seq, _ := strconv.Atoi(f[2])
		acked[f[1]] = seq
		n++
	}
	cmd.Process.Kill()
	cmd.Wait()
	if n < 150 {
		t.Fatalf("child acknowledged only %d segments", n)
	}

	s, err := Open(DefaultConfig(), dataDir, zerolog.Nop(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for id, last := range acked {
		m, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("acknowledged replay %s lost: %v", id, err)
		}
		if m.Segments < last+1 {
			t.Fatalf("replay %s has %d segments, %d acknowledged", id, m.Segments, last+1)
		}
		evs := readEvents(t, s, id)
		if len(evs) != m.Events {
			t.Fatalf("replay %s: %d events read, meta says %d", id, len(evs), m.Events)
		}
	}
	entries, _ := os.ReadDir(s.root)
	for _, e := range entries {
		sub, _ := os.ReadDir(filepath.Join(s.root, e.Name()))
		for _, f := range sub {
			if strings.HasPrefix(f.Name(), tempPrefix) {
				t.Fatalf("temporary file %s/%s left after Open", e.Name(), f.Name())
			}
		}
	}
}

// crashChild forwards segments forever, printing "ack {id} {seq}" after
// each Forward returns.
func crashChild(dataDir string) {
	s, err := Open(DefaultConfig(), dataDir, zerolog.Nop(), nil)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	ev := events(0, 40)
	for i := 0; ; i++ {
		id := fmt.Sprintf("%032x", i/10+1)
		if err := s.Forward(context.Background(), seg(id, i%10, "subj", ev, time.Now())); err != nil {
			fmt.Println("forward:", err)
			os.Exit(1)
		}
		fmt.Printf("ack %s %d\n", id, i%10)
	}
}
