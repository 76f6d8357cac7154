package main

import (
	"errors"
	"io"
)

func scrubCmd(args []string, stdin io.Reader, stdout io.Writer, env func(string) string) error {
	return errors.New("scrub: not built yet")
}
