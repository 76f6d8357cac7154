package inject

import (
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
)

func BenchmarkCalibGunzip(b *testing.B) {
	page := loadPage(b)
	body := upstreamEncode(b, encGzip, page)
	b.Run("std", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			r, _ := stdgzip.NewReader(bytes.NewReader(body))
			io.Copy(io.Discard, r)
		}
	})
	b.Run("kp", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			r, _ := gzip.NewReader(bytes.NewReader(body))
			io.Copy(io.Discard, r)
		}
	})
}
