// Command bareproxy is the benchmark's baseline reverse proxy: a plain
// net/http/httputil.ReverseProxy with a transport tuned the way a careful
// operator would (enough idle connections, no transparent decompression, so
// content encodings pass through untouched). It injects nothing.
//
// With --admin-listen it serves the process's heap figures in Prometheus
// text format at /metrics, so the in-flight memory probe can measure it the
// same way as replaygate.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8082", "listen address")
	upstream := flag.String("upstream", "http://127.0.0.1:8081", "upstream URL")
	admin := flag.String("admin-listen", "", "optional address serving /metrics (heap figures)")
	flag.Parse()

	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		log.Fatalf("upstream %q must be an http URL", *upstream)
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: transport,
		ErrorLog:  log.New(os.Stderr, "bareproxy: ", log.LstdFlags),
	}
	srv := &http.Server{Addr: *listen, Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}

	if *admin != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			fmt.Fprintf(w, "go_memstats_heap_inuse_bytes %d\ngo_memstats_heap_alloc_bytes %d\ngo_memstats_sys_bytes %d\ngo_gc_duration_seconds_count %d\ngo_goroutines %d\n",
				m.HeapInuse, m.HeapAlloc, m.Sys, m.NumGC, runtime.NumGoroutine())
		})
		as := &http.Server{Addr: *admin, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := as.ListenAndServe(); err != nil && err != http.ErrServerClosed {
				log.Fatal(err)
			}
		}()
		defer as.Close()
	}

	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		srv.Close()
	}()
	log.Printf("bareproxy %s -> %s", *listen, target)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
