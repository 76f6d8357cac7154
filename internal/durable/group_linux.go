package durable

import "golang.org/x/sys/unix"

// flushCoversAll: syncfs(2) flushes every writer's work at once.
const flushCoversAll = true

// syncfs runs syncfs(2) on the group's file system.
func (g *Group) syncfs() error {
	raw, err := g.dir.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return err
	}
	return serr
}
