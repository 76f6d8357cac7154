package main

import "runtime"

// sidecarProcs runs twice as many Go threads as there are CPUs, unless
// the GOMAXPROCS variable or a container CPU limit already chose their
// number (Go then starts with fewer than runtime.NumCPU). A sidecar shares
// its CPUs with the site it fronts: with one thread per CPU, the CPUs
// sat 7–12 % idle under load while requests waited (bench/run.sh, 20 KB
// pages), and twice as many raised throughput by 10–20 % (20 KB pages,
// 2 MB and 10 MB pages, assets; docs/deployment.md). It returns the
// number in force and whether it changed it.
func sidecarProcs(env func(string) string) (int, bool) {
	n := runtime.NumCPU()
	if env("GOMAXPROCS") != "" || runtime.GOMAXPROCS(0) != n {
		return runtime.GOMAXPROCS(0), false
	}
	runtime.GOMAXPROCS(2 * n)
	return 2 * n, true
}
