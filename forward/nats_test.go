package forward

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
)

// startNATS runs an embedded JetStream server on a loopback port.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	return startNATSAt(t, -1, t.TempDir())
}

func startNATSAt(t *testing.T, port int, storeDir string) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

func natsConfig(url string) NATSConfig {
	cfg := DefaultConfig().NATS
	cfg.URL = url
	cfg.CreateStream = true
	cfg.Timeout = 3 * time.Second
	return cfg
}

func TestNATSPublishDedupesAndAcks(t *testing.T) {
	ns := startNATS(t)
	n, err := NewNATS(natsConfig(ns.ClientURL()), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	for _, seq := range []int{0, 1, 1, 0, 2} { // two redeliveries
		if err := n.Forward(ctx, testSeg(seq)); err != nil {
			t.Fatalf("Forward %d: %v", seq, err)
		}
	}

	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(ctx, "REPLAYGATE")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(ctx)
	if info.State.Msgs != 3 {
		t.Fatalf("stream holds %d messages, want 3 (duplicates dropped)", info.State.Msgs)
	}
	if info.Config.Duplicates != 10*time.Minute {
		t.Fatalf("duplicate window %v", info.Config.Duplicates)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var seg spool.Segment
		if err := json.Unmarshal(m.Data, &seg); err != nil {
			t.Fatal(err)
		}
		if want := testSeg(int(seq - 1)); m.Header.Get(jetstream.MsgIDHeader) != want.Key() || seg.Key() != want.Key() ||
			string(seg.Events) != string(want.Events) || m.Subject != "replaygate.segments" {
			t.Fatalf("message %d: id %q key %q", seq, m.Header.Get(jetstream.MsgIDHeader), seg.Key())
		}
	}
}

func TestNATSWithoutStreamIsRetryable(t *testing.T) {
	ns := startNATS(t)
	cfg := natsConfig(ns.ClientURL())
	cfg.CreateStream = false
	cfg.Timeout = 500 * time.Millisecond
	n, err := NewNATS(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	err = n.Forward(context.Background(), testSeg(0))
	if err == nil || spool.IsPermanent(err) {
		t.Fatalf("publish without a stream: %v, want a retryable error", err)
	}
}

func TestNATSServerDownAtStart(t *testing.T) {
	cfg := natsConfig("nats://127.0.0.1:1") // nothing listens there
	cfg.Timeout = 300 * time.Millisecond
	n, err := NewNATS(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("a down server must not fail construction: %v", err)
	}
	defer n.Close()
	if err := n.Forward(context.Background(), testSeg(0)); err == nil || spool.IsPermanent(err) {
		t.Fatalf("Forward to a down server: %v, want retryable", err)
	}
}

// TestNATSServerRestart: while the server is down, publishes fail as
// retryable; once it is back (same port and store), the spool's retries go
// through, and a redelivery of a key published before the outage is
// still deduplicated.
func TestNATSServerRestart(t *testing.T) {
	store := t.TempDir()
	ns := startNATSAt(t, -1, store)
	port := ns.Addr().(*net.TCPAddr).Port
	cfg := natsConfig(ns.ClientURL())
	cfg.Timeout = 500 * time.Millisecond
	n, err := NewNATS(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	if err := n.Forward(ctx, testSeg(0)); err != nil {
		t.Fatal(err)
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	if err := n.Forward(ctx, testSeg(1)); err == nil || spool.IsPermanent(err) {
		t.Fatalf("publish while down: %v, want retryable", err)
	}

	ns = startNATSAt(t, port, store)
	deadline := time.Now().Add(10 * time.Second)
	for _, seq := range []int{1, 0} { // 0 is a redelivery from before the outage
		for {
			err := n.Forward(ctx, testSeg(seq))
			if err == nil {
				break
			}
			if spool.IsPermanent(err) || time.Now().After(deadline) {
				t.Fatalf("after restart: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(ctx, "REPLAYGATE")
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := st.Info(ctx); info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2", info.State.Msgs)
	}
}
