// Package diskscan reads what a directory tree holds, compressed or not,
// for tests that assert no unscrubbed data reaches the disk.
//
// Recordings are stored as gzip members embedded in larger files (the
// spool's log records, the store's segments.log), so looking only at files
// that start with the gzip magic, or end in .gz, misses them: such a scan
// cannot fail. Dir and Expand decode a member at every offset where the
// gzip magic and the deflate method (1f 8b 08) occur and keep whatever
// decodes, also from a member that is damaged further on.
//
// It is test support: it reads whole files into memory and tries every
// candidate offset, which suits test data directories, not production
// ones.
package diskscan

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/gzip"
)

// maxMember bounds the output of one member, so a decompression bomb in
// the data cannot exhaust a test's memory.
const maxMember = 256 << 20

// maxDepth is how deep members inside decoded members are decoded.
const maxDepth = 3

var magic = []byte{0x1f, 0x8b, 0x08}

// Dir returns the content of every regular file under root, each file
// followed by Expand's decoded members, files separated by newlines.
func Dir(root string) ([]byte, error) {
	var all []byte
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		all = append(all, Expand(b)...)
		all = append(all, '\n')
		return nil
	})
	return all, err
}

// Expand returns b followed by the decompression of every gzip member
// embedded in b (and in what those decode to, a few levels deep), each on
// a new line. A member is tried at every offset where 1f 8b 08 occurs;
// what decodes before an error is kept.
func Expand(b []byte) []byte {
	return appendMembers(bytes.Clone(b), b, maxDepth)
}

func appendMembers(dst, b []byte, depth int) []byte {
	for i := 0; ; {
		j := bytes.Index(b[i:], magic)
		if j < 0 {
			return dst
		}
		if dec := decodeAt(b[i+j:]); len(dec) > 0 {
			dst = append(append(dst, '\n'), dec...)
			if depth > 1 {
				dst = appendMembers(dst, dec, depth-1)
			}
		}
		i += j + 1
	}
}

// decodeAt returns what the gzip member at the start of b decodes to, as
// far as it decodes.
func decodeAt(b []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	zr.Multistream(false)
	out, _ := io.ReadAll(io.LimitReader(zr, maxMember))
	return out
}
