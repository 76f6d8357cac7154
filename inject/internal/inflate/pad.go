package inflate

import "sync"

// Pad returns empty, non-final deflate blocks whose total length in bits
// is congruent to r modulo 8 (0 ≤ r < 8), packed least significant bit
// first, and that length. Placed at a byte boundary of a deflate stream,
// they decode to nothing and leave the stream r bits into a byte, so a
// stream cut at bit offset 8k+r of another stream can be continued with
// that stream's bytes from k on, with its first r bits replaced by the
// last r bits of the padding.
func Pad(r int) (bits []byte, n int) {
	p := pads()[r&7]
	return p.b, p.n
}

type padding struct {
	b []byte
	n int
}

var pads = sync.OnceValue(func() [8]padding {
	var out [8]padding
	for r := 1; r < 8; r++ {
		var w bitWriter
		writePad(&w, r)
		out[r] = padding{w.out, w.n}
	}
	return out
})

// writePad writes empty, non-final blocks whose length in bits is
// congruent to r modulo 8 (none for r = 0).
func writePad(w *bitWriter, r int) {
	switch {
	case r == 0:
	case r%2 == 0:
		// An empty block with the fixed code is 10 bits: header, EOB.
		for i := 0; i < r/2; i++ {
			w.bits(0b010, 3) // BFINAL 0, BTYPE 01
			w.code(0, 7)     // end of block, 0000000
		}
	default:
		// An empty dynamic block of 101+2k bits, k single zero
		// lengths: 101 is 5 mod 8, so k = 0..3 gives 5, 7, 1, 3.
		emptyDynamic(w, map[int]int{5: 0, 7: 1, 1: 2, 3: 3}[r])
	}
}

// emptyDynamic writes an empty block with dynamic codes, 101+2k bits.
//
// Literal/length code: symbols 0 and 256 (end of block) of length 1;
// distance code: symbols 0 and 1 of length 1 (both codes complete, as
// zlib requires). The code-length code gives length 2 to 0, 1, 17 and 18
// (complete); 19 of its lengths are sent. The 255 zero lengths between
// symbols 0 and 256 are sent as k single zeros and two runs of code 18.
func emptyDynamic(w *bitWriter, k int) {
	w.bits(0b100, 3) // BFINAL 0, BTYPE 10
	w.bits(0, 5)     // HLIT: 257 codes
	w.bits(1, 5)     // HDIST: 2 codes
	w.bits(19-4, 4)  // HCLEN: 19 code-length code lengths
	order := [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
	for _, sym := range order {
		l := 0
		if sym == 0 || sym == 1 || sym == 17 || sym == 18 {
			l = 2
		}
		w.bits(uint32(l), 3)
	}
	// Canonical codes of length 2 in symbol order: 0→00, 1→01, 17→10, 18→11.
	one, zero, run := func() { w.code(0b01, 2) }, func() { w.code(0b00, 2) }, func(n int) {
		w.code(0b11, 2)
		w.bits(uint32(n-11), 7)
	}
	one() // literal 0
	for i := 0; i < k; i++ {
		zero()
	}
	rest := 255 - k
	run(138)
	run(rest - 138)
	one()        // 256
	one()        // distance 0
	one()        // distance 1
	w.code(1, 1) // end of block: symbol 256, code 1
}

// bitWriter packs bits least significant first, as deflate does.
type bitWriter struct {
	out []byte
	n   int // bits written
}

// bits writes the low n bits of v, least significant first (header
// fields and extra bits).
func (w *bitWriter) bits(v uint32, n int) {
	for i := 0; i < n; i++ {
		w.bit(v >> i & 1)
	}
}

// code writes an n-bit Huffman code, most significant bit first.
func (w *bitWriter) code(c uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.bit(c >> i & 1)
	}
}

func (w *bitWriter) bit(b uint32) {
	if w.n%8 == 0 {
		w.out = append(w.out, 0)
	}
	w.out[len(w.out)-1] |= byte(b) << (w.n % 8)
	w.n++
}
