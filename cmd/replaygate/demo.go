package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/replaygate/replaygate/app"
	"github.com/replaygate/replaygate/demo"
	"github.com/replaygate/replaygate/proxy"
)

// demoCmd runs the demo shop on a private loopback port, replaygate in front
// of it, and the admin listener with the viewer.
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	f := newServeFlags("demo", stderr)
	cfg, err := f.load(args, env)
	if err != nil {
		return err
	}
	if f.listen == "" && env("REPLAYGATE_LISTEN") == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if f.data == "" && env("REPLAYGATE_DATA_DIR") == "" {
		cfg.DataDir = ".demo-data"
	}
	if cfg.Log.Format == "json" {
		cfg.Log.Format = "console"
	}
	log := newLogger(cfg, stderr)

	siteLn, err := proxy.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg.Upstream = "http://" + siteLn.Addr().String()
	a, err := app.New(cfg, log)
	if err != nil {
		siteLn.Close()
		return err
	}
	site := &http.Server{Handler: demo.New(), ReadHeaderTimeout: 10 * time.Second}

	fmt.Fprintf(stdout, `
replaygate demo is running.

  Shop (through replaygate):  http://%s/
  Viewer (admin):             http://%s/
  Admin token:                %s
  Data directory:             %s

Open the shop, accept or reject the consent banner, click around, then open
the viewer and paste the admin token to watch the masked replay.
Press Ctrl-C to stop.

`, a.PublicAddr(), a.AdminAddr(), a.AdminToken, cfg.DataDir)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := site.Serve(siteLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return site.Shutdown(sctx)
	})
	g.Go(func() error { return a.Run(gctx) })
	return g.Wait()
}
