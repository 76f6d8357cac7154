package main

import (
	"bufio"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/replaygate/replaygate/config"
	"github.com/replaygate/replaygate/policy/scrub"
)

// scrubCmd reads an rrweb event array (JSON, or gzip/zlib of it) from a
// file or stdin and writes its scrubbed JSON to stdout.
func scrubCmd(args []string, stdin io.Reader, stdout io.Writer, env func(string) string) error {
	fs := flag.NewFlagSet("scrub", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("config", "", "YAML config file whose scrub section applies (env REPLAYGATE_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 1 {
		return usageError{"scrub takes at most one FILE"}
	}
	cfgPath := *path
	if cfgPath == "" {
		cfgPath = env("REPLAYGATE_CONFIG")
	}
	cfg, err := config.Load(cfgPath, env)
	if err != nil {
		return err
	}
	if err := cfg.Scrub.Validate(); err != nil {
		return fmt.Errorf("scrub.%w", err)
	}
	sc, err := scrub.New(cfg.Scrub)
	if err != nil {
		return err
	}
	in := stdin
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	src, err := readMaybeCompressed(in)
	if err != nil {
		return err
	}
	out, res, err := sc.Scrub(nil, src)
	if err != nil {
		var ie *scrub.InputError
		if errors.As(err, &ie) {
			return fmt.Errorf("input is not an rrweb event array: %s", ie.Msg)
		}
		return err
	}
	if _, err := stdout.Write(append(out, '\n')); err != nil {
		return err
	}
	if n := total(res.Hits); n > 0 {
		fmt.Fprintf(os.Stderr, "scrubbed %d value(s) in %d event(s): %v\n", n, res.Events, res.Hits)
	}
	return nil
}

// readMaybeCompressed reads all of r, decoding gzip or zlib when its first
// bytes say so.
func readMaybeCompressed(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(2)
	var src io.Reader = br
	switch {
	case len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("scrub: gzip: %w", err)
		}
		src = zr
	case len(head) == 2 && head[0]&0x0f == 8 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0:
		zr, err := zlib.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("scrub: zlib: %w", err)
		}
		src = zr
	}
	b, err := io.ReadAll(src)
	if err != nil {
		return nil, fmt.Errorf("scrub: read input: %w", err)
	}
	return b, nil
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
