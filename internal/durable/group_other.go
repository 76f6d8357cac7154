//go:build !linux

package durable

// syncfsUsable: there is no syncfs(2); each writer fsyncs its own paths.
func syncfsUsable() bool { return false }

func (g *Group) syncfs() error { return nil }
