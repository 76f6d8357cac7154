// Package config holds replaygate's one Config struct: its defaults, loading
// from a YAML file, REPLAYGATE_* environment variables and command-line flags
// (flags > env > file > defaults), validation with errors that name the field
// and the fix, and a printable form with secrets redacted.
//
// It does not start anything: the cmd package provisions live objects from a
// validated Config.
package config
