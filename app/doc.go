// Package app provisions a running replaygate from a validated
// config.Config: the public listener (front handler, injector, own
// endpoints), the admin listener, and the ingest pipeline behind them. It
// owns their goroutines and stops them when Run's context ends.
//
// The command line (cmd/replaygate) and the end-to-end tests both start
// replaygate through this package, so they test what users run.
package app
