package inflate

// Resume returns what continues a deflate stream, written at one of its
// byte boundaries, with the rest of the Huffman block that f stands in at
// SymbolStart: empty blocks that pad the stream (as Pad does), then the
// header of a block with the same codes and the same BFINAL, so that the
// block's remaining symbols, copied from the input from SymbolStart on,
// decode as they did. The result ends r bits into its last byte
// (0 ≤ r < 8; r = 0: complete bytes), the bit offset of SymbolStart
// within its byte, so that byte is shared as with Pad.
//
// A dynamic block's header is written anew from its code lengths: every
// code length literally, zero runs as codes 17 and 18, with a fixed
// code-length code. Deflate's codes are canonical, so the same lengths
// give the same codes; the header is usually a few dozen bytes longer
// than the encoder's own.
func (f *Inflater) Resume(r int) []byte {
	var h bitWriter
	f.writeHeader(&h)
	var w bitWriter
	writePad(&w, (r-h.n)&7)
	for i := 0; i < h.n; i++ {
		w.bit(uint32(h.out[i/8] >> (i % 8) & 1))
	}
	return w.out
}

// clenLengths is the code-length code Resume writes: a complete code in
// which the code lengths 1, 2, 14, 15 (rare in deflate streams) take 5
// bits, the other lengths and the zero runs 17 and 18 take 4, and 16 is
// not used.
var clenLengths = [numCodes]int{4, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 0, 4, 4}

// writeHeader writes the header of a block with f's current codes.
func (f *Inflater) writeHeader(w *bitWriter) {
	final := uint32(0)
	if f.final {
		final = 1
	}
	w.bits(final, 1)
	if f.hd == nil {
		w.bits(1, 2) // BTYPE 01: the fixed codes, no more header
		return
	}
	w.bits(2, 2) // BTYPE 10: dynamic codes
	w.bits(uint32(f.nlit-257), 5)
	w.bits(uint32(f.ndist-1), 5)
	w.bits(numCodes-4, 4)
	for _, sym := range codeOrder {
		w.bits(uint32(clenLengths[sym]), 3)
	}
	codes := canonical(clenLengths[:])
	put := func(sym int) { w.code(codes[sym], clenLengths[sym]) }
	lengths := f.bits[:f.nlit+f.ndist]
	for i := 0; i < len(lengths); {
		if lengths[i] != 0 {
			put(lengths[i])
			i++
			continue
		}
		run := 1
		for i+run < len(lengths) && lengths[i+run] == 0 && run < 138 {
			run++
		}
		switch {
		case run >= 11:
			put(18)
			w.bits(uint32(run-11), 7)
		case run >= 3:
			put(17)
			w.bits(uint32(run-3), 3)
		default:
			run = 1
			put(0)
		}
		i += run
	}
}

// canonical returns deflate's canonical Huffman codes for lengths
// (RFC 1951, 3.2.2).
func canonical(lengths []int) []uint32 {
	var count [maxCodeLen]int
	for _, l := range lengths {
		count[l]++
	}
	count[0] = 0
	var next [maxCodeLen]uint32
	code := uint32(0)
	for bits := 1; bits < maxCodeLen; bits++ {
		code = (code + uint32(count[bits-1])) << 1
		next[bits] = code
	}
	codes := make([]uint32, len(lengths))
	for sym, l := range lengths {
		if l != 0 {
			codes[sym] = next[l]
			next[l]++
		}
	}
	return codes
}
