package inflate

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	kflate "github.com/klauspost/compress/flate"
)

// byteReader is a Reader over a byte slice that hands out at most step
// bytes per Read, like a network body.
type byteReader struct {
	b    []byte
	step int
}

func (r *byteReader) ReadByte() (byte, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.step)], r.b)
	r.b = r.b[n:]
	return n, nil
}

// cutAt returns the stream b from bit k on, after Pad, the way the
// injector splices it.
func cutAt(b []byte, k int64) []byte {
	r := int(k % 8)
	pad, n := Pad(r)
	if n%8 != r {
		panic(fmt.Sprintf("Pad(%d) is %d bits", r, n))
	}
	out := bytes.Clone(pad)
	rest := b[k/8:]
	if r > 0 {
		last := out[len(out)-1] | rest[0]&^(1<<r-1)
		out[len(out)-1] = last
		rest = rest[1:]
	}
	return append(out, rest...)
}

// resumeAt returns the stream b from bit k on, after Resume, the way the
// injector splices it inside a block.
func resumeAt(b []byte, k int64, lead []byte) []byte {
	r := int(k % 8)
	out := bytes.Clone(lead)
	rest := b[k/8:]
	if r > 0 {
		out[len(out)-1] |= rest[0] &^ (1<<r - 1)
		rest = rest[1:]
	}
	return append(out, rest...)
}

// TestSymbolStarts decodes streams from several encoders with hand-outs
// at random points and checks every few symbol starts reported: the
// stream resumed there (Resume, then the input from that bit on) must
// decode, given the output so far as its window, to the rest of the
// output, with the standard library's decoder and klauspost's.
func TestSymbolStarts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{3000, 200 << 10, 700 << 10} {
		data := sample(rng, size)
		for _, c := range compressors() {
			t.Run(fmt.Sprintf("%s/%d", c.name, size), func(t *testing.T) {
				comp := c.fn(data)
				f := New(&byteReader{b: comp, step: 1 + rng.IntN(5000)})
				f.SetEager(1 + rng.IntN(20000))
				checked := 0
				decodeAll(t, f, make([]byte, 40<<10), data, func(i int, out []byte) {
					defer f.SetEager(1 + rng.IntN(20000))
					bits, ok := f.SymbolStart()
					if !ok || i%5 != 0 {
						return
					}
					checked++
					stream := resumeAt(comp, bits, f.Resume(int(bits%8)))
					dict := out[max(0, len(out)-maxMatchOffset):]
					what := fmt.Sprintf("stream resumed at bit %d (output %d)", bits, len(out))
					wantRest(t, "compress/flate: "+what, stdflate.NewReaderDict(bytes.NewReader(stream), dict), data[len(out):])
					wantRest(t, "klauspost: "+what, kflate.NewReaderDict(bytes.NewReader(stream), dict), data[len(out):])
				})
				huffman := c.name != "std-store"
				if huffman && size >= 200<<10 && checked == 0 {
					t.Fatal("no symbol start was checked")
				}
			})
		}
	}
}

// decodeAll decodes with f in Reads into buf, calls each after every Read
// but the last with the Read's number and the output so far, and wants
// data in the end.
func decodeAll(t *testing.T, f *Inflater, buf, data []byte, each func(i int, out []byte)) {
	t.Helper()
	var out []byte
	for i := 0; ; i++ {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		each(i, out)
	}
	if !bytes.Equal(out, data) {
		t.Fatalf("decoded %d bytes, want %d (equal prefix %v)", len(out), len(data), bytes.HasPrefix(data, out))
	}
}

// wantRest reads r to its end and wants want.
func wantRest(t *testing.T, what string, r io.Reader, want []byte) {
	t.Helper()
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Equal(rest, want) {
		t.Fatalf("%s decodes to %d bytes, want %d", what, len(rest), len(want))
	}
}

// sample makes text with repeats, like HTML, of about n bytes.
func sample(rng *rand.Rand, n int) []byte {
	words := []string{"<div class=\"card\">", "</div>", "<a href=\"/p/", "\">", "</a>", "price", " ", "\n", "€", "<td>", "lorem ipsum "}
	var b bytes.Buffer
	for b.Len() < n {
		if rng.IntN(5) == 0 {
			fmt.Fprintf(&b, "%d", rng.Uint32())
		} else {
			b.WriteString(words[rng.IntN(len(words))])
		}
	}
	return b.Bytes()
}

type compressor struct {
	name string
	fn   func(data []byte) []byte
}

func compressors() []compressor {
	std := func(level int, flushEvery int) func([]byte) []byte {
		return func(data []byte) []byte {
			var b bytes.Buffer
			w, _ := stdflate.NewWriter(&b, level)
			for len(data) > 0 {
				n := min(len(data), flushEvery)
				w.Write(data[:n])
				data = data[n:]
				if len(data) > 0 && flushEvery < 1<<30 {
					w.Flush()
				}
			}
			w.Close()
			return b.Bytes()
		}
	}
	k := func(level int) func([]byte) []byte {
		return func(data []byte) []byte {
			var b bytes.Buffer
			w, _ := kflate.NewWriter(&b, level)
			w.Write(data)
			w.Close()
			return b.Bytes()
		}
	}
	return []compressor{
		{"std-6", std(6, 1<<30)},
		{"std-1", std(1, 1<<30)},
		{"std-9-flush-7000", std(9, 7000)},
		{"std-huffman", std(stdflate.HuffmanOnly, 1<<30)},
		{"std-store", std(stdflate.NoCompression, 1<<30)},
		{"klauspost-1", k(1)},
		{"klauspost-5", k(5)},
		{"klauspost-9", k(9)},
	}
}

// TestBlockStarts decodes streams from several encoders in uneven reads
// and checks the output against the standard library and every reported
// block start: the stream cut at that bit must decode, given the output
// so far as its window, to the rest of the output.
func TestBlockStarts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 3000, 200 << 10, 1 << 20} {
		data := sample(rng, size)
		for _, c := range compressors() {
			t.Run(fmt.Sprintf("%s/%d", c.name, size), func(t *testing.T) {
				comp := c.fn(data)
				f := New(&byteReader{b: comp, step: 1 + rng.IntN(5000)})
				if rng.IntN(2) == 0 {
					f.SetEager(1 + rng.IntN(9000))
				}
				starts := 0
				decodeAll(t, f, make([]byte, 1+rng.IntN(70000)), data, func(_ int, out []byte) {
					bits, ok := f.BlockStart()
					if !ok {
						return
					}
					starts++
					if starts%7 != 1 {
						return // checking every start is quadratic
					}
					dict := out[max(0, len(out)-maxMatchOffset):]
					what := fmt.Sprintf("stream cut at bit %d (output %d)", bits, len(out))
					wantRest(t, what, stdflate.NewReaderDict(bytes.NewReader(cutAt(comp, bits)), dict), data[len(out):])
				})
				if size >= 200<<10 && c.name != "std-store" && starts == 0 {
					t.Errorf("no block start reported in %d bytes", len(comp))
				}
			})
		}
	}
}

// TestCorrupt checks that broken streams fail as in the standard library.
func TestCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := sample(rng, 50000)
	comp := compressors()[0].fn(data)
	for _, cut := range []int{0, 1, 10, len(comp) / 2, len(comp) - 1} {
		_, err := io.ReadAll(New(&byteReader{b: comp[:cut], step: 100}))
		if err == nil {
			t.Errorf("stream cut to %d bytes: no error", cut)
		}
	}
	bad := bytes.Clone(comp)
	bad[0] |= 6 // block type 3 (reserved)
	if _, err := io.ReadAll(New(&byteReader{b: bad, step: 100})); err == nil {
		t.Error("reserved block type: no error")
	}
}

func FuzzInflate(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range compressors()[:3] {
		f.Add(c.fn(sample(rng, 2000)))
	}
	f.Add([]byte{0x01, 0x00, 0x00, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, comp []byte) {
		want, wantErr := io.ReadAll(stdflate.NewReader(bytes.NewReader(comp)))
		f := New(&byteReader{b: comp, step: 7})
		if len(comp)%3 == 0 {
			f.SetEager(len(comp))
		}
		var got []byte
		buf := make([]byte, 1000)
		var err error
		for {
			var n int
			n, err = f.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
			if bits, ok := f.BlockStart(); ok && (bits < 0 || bits > int64(len(comp))*8) {
				t.Fatalf("block start at bit %d of %d bytes", bits, len(comp))
			}
		}
		if err == io.EOF {
			err = nil
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("error %v, standard library %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("decoded %d bytes, standard library %d", len(got), len(want))
		}
	})
}

func BenchmarkInflate(b *testing.B) {
	data := sample(rand.New(rand.NewPCG(7, 8)), 1<<20)
	comp := compressors()[0].fn(data)
	buf := make([]byte, 32<<10)
	f := New(&byteReader{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f.Reset(&byteReader{b: comp, step: 4096})
		for {
			_, err := f.Read(buf)
			if err != nil {
				break
			}
		}
	}
}

// TestPad checks each padding between a sync-flushed stream and a final
// block that starts r bits into a byte.
func TestPad(t *testing.T) {
	data := bytes.Repeat([]byte("hello world "), 1000)
	for r := 0; r < 8; r++ {
		var b bytes.Buffer
		w, _ := stdflate.NewWriter(&b, 6)
		w.Write(data)
		w.Flush()
		pad, n := Pad(r)
		if n%8 != r {
			t.Fatalf("Pad(%d) is %d bits", r, n)
		}
		bw := bitWriter{out: append(b.Bytes(), pad...), n: b.Len()*8 + n}
		bw.bits(0b011, 3) // final block, fixed code
		bw.code(0, 7)     // end of block
		got, err := io.ReadAll(stdflate.NewReader(bytes.NewReader(bw.out)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("Pad(%d): %d bytes, %v", r, len(got), err)
		}
	}
}
