package diskscan

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/spool"
	"github.com/replaygate/replaygate/store"
)

const secret = "4111 1111 1111 1111"

// planted is a compressible rrweb array with the secret in it: its gzip
// member does not show the secret as plain bytes.
func planted() []byte {
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 40 {
		if i > 0 {
			sb.WriteString(",")
		}
		text := "filler text that repeats"
		if i == 20 {
			text = "card " + secret
		}
		fmt.Fprintf(&sb, `{"type":3,"timestamp":%d,"data":{"source":0,"texts":[{"id":%d,"value":%q}]}}`, 1764331200000+i, i, text)
	}
	sb.WriteString("]")
	return []byte(sb.String())
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, 1)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes b as root/name and returns root.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return root
}

// segLogLike is two records shaped like the store's segments.log: a
// 28-byte header ("RGS2", checksums, seq, length, time) and a gzip member
// each; the secret is in the second.
func segLogLike(t *testing.T) []byte {
	var out []byte
	for seq, body := range [][]byte{[]byte(`[{"type":4,"timestamp":1,"data":{"href":"https://x/"}}]`), planted()} {
		member := gz(t, body)
		h := make([]byte, 28)
		copy(h, "RGS2")
		binary.LittleEndian.PutUint32(h[12:], uint32(seq))
		binary.LittleEndian.PutUint32(h[16:], uint32(len(member)))
		out = append(append(out, h...), member...)
	}
	return out
}

// spoolLike is a file shaped like a spool log: its header, then a record
// whose payload holds fixed fields, the replay id and subject, the gzip
// field (with the secret), a summary and no events.
func spoolLike(t *testing.T) []byte {
	out := append([]byte("RGSPOOL4"), make([]byte, 8)...)
	var p []byte
	p = binary.LittleEndian.AppendUint64(p, 1)
	p = binary.LittleEndian.AppendUint64(p, uint64(time.Now().UnixNano()))
	p = binary.LittleEndian.AppendUint64(p, 3)
	for _, f := range []string{strings.Repeat("ab", 16), "subject"} {
		p = binary.LittleEndian.AppendUint16(p, uint16(len(f)))
		p = append(p, f...)
	}
	member := gz(t, planted())
	p = binary.LittleEndian.AppendUint32(p, uint32(len(member)))
	p = append(p, member...)
	p = binary.LittleEndian.AppendUint32(p, 4)
	p = append(p, 1, 0, 0, 0)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(p)))
	out = binary.LittleEndian.AppendUint32(out, 0)
	return append(out, p...)
}

// realSpool appends the planted events, compressed, to a real spool.
func realSpool(t *testing.T) string {
	root := t.TempDir()
	sp, err := spool.Open(spool.DefaultConfig(), root, nil, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := sp.Append(spool.Segment{ReplayID: strings.Repeat("ab", 16), Seq: 1, Subject: "s", ReceivedAt: time.Now(), Gzip: gz(t, planted())}); err != nil {
		t.Fatal(err)
	}
	return root
}

// realStore stores the planted events, compressed, in a real store.
func realStore(t *testing.T) string {
	root := t.TempDir()
	st, err := store.Open(store.DefaultConfig(), root, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id := strings.Repeat("ab", 16)
	if err := st.Forward(context.Background(), spool.Segment{ReplayID: id, Seq: 1, Subject: "s", ReceivedAt: time.Now(), Gzip: gz(t, planted())}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(context.Background(), id); err != nil {
		t.Fatalf("segment not stored: %v", err)
	}
	return root
}

// TestFindsSecretInEmbeddedMembers: a secret inside a gzip member in the
// middle of a file (a segment log record, a spool record, real ones
// written by the spool and the store, a member damaged after the secret)
// is found, although the file's own bytes do not show it.
func TestFindsSecretInEmbeddedMembers(t *testing.T) {
	damaged := gz(t, planted())
	damaged = damaged[:len(damaged)*3/4]
	tests := []struct {
		name string
		root func(t *testing.T) string
	}{
		{"segments.log-like record", func(t *testing.T) string { return writeFile(t, "replays/x/segments.log", segLogLike(t)) }},
		{"spool-like record", func(t *testing.T) string { return writeFile(t, "spool/00000001.log", spoolLike(t)) }},
		{"real spool", realSpool},
		{"real store", realStore},
		{"damaged member mid-file", func(t *testing.T) string {
			return writeFile(t, "f.bin", append(append([]byte("head\x1f\x8b"), damaged...), "tail"...))
		}},
		{"member inside a member", func(t *testing.T) string {
			return writeFile(t, "nested", append([]byte("xx"), gz(t, append([]byte("yy"), gz(t, planted())...))...))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := tt.root(t)
			raw := rawDir(t, root)
			if bytes.Contains(raw, []byte(secret)) {
				t.Fatal("the secret is in the files' plain bytes: the case proves nothing")
			}
			got, err := Dir(root)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(got, []byte(secret)) {
				t.Fatalf("secret not found in %d bytes", len(got))
			}
			if !bytes.Contains(got, raw[:min(len(raw), 8)]) {
				t.Fatal("the files' own bytes are not in the output")
			}
		})
	}
}

// TestNoFalseFinds: a directory whose members hold no secret yields none,
// and bytes that only look like a member's start are passed over.
func TestNoFalseFinds(t *testing.T) {
	clean := bytes.ReplaceAll(planted(), []byte(secret), []byte("**** **** **** ****"))
	root := writeFile(t, "a", append(append([]byte("\x1f\x8b\x08junk"), gz(t, clean)...), 0x1f, 0x8b, 0x08))
	got, err := Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte(secret)) || !bytes.Contains(got, []byte("**** **** **** ****")) {
		t.Fatalf("output %q", got)
	}
}

// rawDir is the plain concatenation of the files under root.
func rawDir(t *testing.T, root string) []byte {
	t.Helper()
	var all []byte
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			all = append(all, b...)
		}
		return err
	})
	return all
}
