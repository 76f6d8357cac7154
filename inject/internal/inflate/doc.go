// Package inflate is a raw DEFLATE (RFC 1951) decoder that reports where
// its blocks and symbols start, so that a compressed stream can be cut
// there and the rest of it passed on without decoding: between blocks
// after empty padding blocks (Pad), inside a block after a new header with
// the same codes (Resume).
//
// It is Go's compress/flate decompressor (BSD licence, see the file
// headers) with three changes:
//   - at the end of every non-final block, the block's output is handed
//     out and the decoder pauses, so BlockStart can report the boundary
//     between two Reads, with the exact number of input bits before it;
//     SymbolStart does the same for a hand-out inside a Huffman block,
//     and the decoder keeps the block's code lengths for Resume;
//   - the input must implement io.ByteReader (no internal buffering, so
//     the bit count is exact), and Reset keeps the tables and window;
//   - preset dictionaries and the deprecated error types are gone;
//   - a Huffman table keeps its link tables' memory from block to block
//     (Go's allocates them for every dynamic block, 20–40 allocations).
//
// Decoding speed is otherwise the standard library's; the package exists
// for the boundary, not for speed.
package inflate
