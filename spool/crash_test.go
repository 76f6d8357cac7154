package spool

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// crashChildEnv names the spool directory when the test binary runs as the
// child of TestKill9DuringLoad.
const crashChildEnv = "REPLAYGATE_SPOOL_CRASH_CHILD"

// lineForwarder prints "FWD key" for each delivery: the parent process is
// the destination, so what it read survives the child's death.
type lineForwarder struct {
	mu  *sync.Mutex
	out *os.File
}

func (f lineForwarder) Name() string { return "collector" }

func (f lineForwarder) Forward(ctx context.Context, seg Segment) error {
	time.Sleep(200 * time.Microsecond) // a destination slower than the appenders
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := fmt.Fprintf(f.out, "FWD %s\n", seg.Key())
	return err
}

// TestCrashChild is the child side of TestKill9DuringLoad: it appends under
// load, prints "ACK key" after every acknowledged append and delivers
// concurrently, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestKill9DuringLoad")
	}
	var mu sync.Mutex
	cfg := testConfig()
	cfg.FileBytes = 256 << 10 // roll and compact during the load
	s, err := Open(cfg, dir, []Forwarder{lineForwarder{&mu, os.Stdout}}, zerolog.Nop(), nil)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	go s.Run(context.Background())
	fmt.Println("READY")
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			life, _ := strconv.Atoi(os.Getenv(crashChildEnv + "_LIFE"))
			r := replayID(1000 + 100*life + w)
			for i := 0; ; i++ {
				if err := s.Append(testSeg(r, i, 20000)); err != nil {
					fmt.Println("ERR", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Printf("ACK %s/%d\n", r, i)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestKill9DuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	for round := range 3 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			dir := t.TempDir()
			acked, childFwd := map[string]bool{}, map[string]bool{}
			// Let the child spool and deliver for a while, then kill it.
			for life := range 2 {
				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, fmt.Sprintf("%s_LIFE=%d", crashChildEnv, life))
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				killAt := 300 + 250*round + 100*life
				sc := bufio.NewScanner(out)
				n := 0
				for sc.Scan() {
					line := sc.Text()
					switch {
					case strings.HasPrefix(line, "ACK "):
						acked[line[4:]] = true
						if n++; n == killAt {
							cmd.Process.Signal(syscall.SIGKILL)
						}
					case strings.HasPrefix(line, "FWD "):
						childFwd[line[4:]] = true
					case strings.HasPrefix(line, "ERR "):
						t.Fatalf("child: %s", line)
					}
				}
				cmd.Wait()
				b, _ := os.ReadFile(dir + "/spool/cursors.json")
				t.Logf("life %d: checkpoint %s", life, b)
				if n < killAt {
					t.Fatalf("child exited after %d acks", n)
				}
			}

			c := newCollector("collector")
			s := openT(t, testConfig(), dir, c)
			stop := runT(t, s)
			waitFor(t, "drain after crash", 20*time.Second, func() bool { d, _ := s.Depth(); return d == 0 })
			stop()
			s.Close()

			delivered := map[string]bool{}
			redelivered := 0
			for k, seg := range c.segs {
				checkSeg(t, seg)
				delivered[k] = true
				if childFwd[k] {
					redelivered++
				}
			}
			lost := 0
			for k := range acked {
				if !delivered[k] && !childFwd[k] {
					lost++
					t.Errorf("acknowledged %s never delivered", k)
				}
			}
			// Redelivery is bounded by what was delivered since the last
			// checkpoint (10ms here), far below everything delivered.
			if redelivered > len(childFwd)/2+20 {
				t.Errorf("%d of %d redelivered: checkpoints not effective", redelivered, len(childFwd))
			}
			t.Logf("acked %d, delivered by child %d, after restart %d (%d of them again), lost %d",
				len(acked), len(childFwd), len(delivered), redelivered, lost)
		})
	}
}
