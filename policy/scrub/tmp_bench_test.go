package scrub

import (
	"os"
	"testing"
)

func BenchmarkTmpSeg(b *testing.B) {
	for _, f := range []string{"/tmp/seg130.json", "/tmp/seg130snap.json"} {
		src, _ := os.ReadFile(f)
		sc, _ := New(DefaultConfig())
		dst := make([]byte, 0, len(src)*2)
		b.Run(f[5:], func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				dst, _, _ = sc.Scrub(dst[:0], src)
			}
		})
	}
}
