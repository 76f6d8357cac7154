package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/replaygate/replaygate/config"
	"github.com/replaygate/replaygate/policy"
	"github.com/replaygate/replaygate/proxy"
)

// App is a provisioned replaygate: listeners bound, components opened.
type App struct {
	cfg    config.Config
	log    zerolog.Logger
	public net.Listener
	admin  net.Listener
	front  *proxy.Front
	// AdminToken is the bearer token of the admin listener.
	AdminToken string
	// TokenGenerated reports that AdminToken was made for this data dir
	// because none was configured.
	TokenGenerated bool

	closers []func() error
	runners []func(context.Context) error
	pipe    *pipeline
	adminH  http.Handler
}

// logger tags the log of a component that does not tag its own (ingest,
// inject, consent and spool do).
func (a *App) logger(component string) zerolog.Logger {
	return a.log.With().Str("component", component).Logger()
}

// New provisions everything cfg describes and binds both listeners.
func New(cfg config.Config, log zerolog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	upstream, err := config.ParseUpstream(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	a := &App{cfg: cfg, log: log}
	ok := false
	defer func() {
		if !ok {
			a.close()
		}
	}()
	if err := a.provisionToken(); err != nil {
		return nil, err
	}
	endpoints, err := a.provisionPipeline()
	if err != nil {
		return nil, err
	}
	front, err := proxy.New(cfg.Proxy, upstream, proxy.Options{
		Prefix:     cfg.Prefix,
		Endpoints:  endpoints,
		Rewriter:   a.rewriter(),
		Registerer: a.pipe.reg,
		OwnCookies: []string{policy.CookieName, policy.StateCookieName},
	}, log.With().Str("component", "proxy").Logger())
	if err != nil {
		return nil, err
	}
	a.front = front
	// Paths can carry personal data (/users/jane@example.com): the access
	// log gets them scrubbed.
	front.RedactPath = a.pipe.scanner.ScrubString
	if a.adminH, err = a.adminHandler(); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() error { front.Close(); return nil })
	if a.public, err = proxy.Listen(cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if a.admin, err = proxy.Listen(cfg.AdminListen); err != nil {
		return nil, fmt.Errorf("admin_listen: %w", err)
	}
	ok = true
	return a, nil
}

// PublicAddr is the bound public address.
func (a *App) PublicAddr() string { return a.public.Addr().String() }

// AdminAddr is the bound admin address.
func (a *App) AdminAddr() string { return a.admin.Addr().String() }

// Run serves until ctx ends, then drains and closes everything.
func (a *App) Run(ctx context.Context) error {
	defer a.close()
	g, gctx := errgroup.WithContext(ctx)
	pc := a.cfg.Proxy
	g.Go(func() error {
		return (&proxy.Server{
			Name: "public", Handler: a.front,
			ReadHeaderTimeout: pc.ReadHeaderTimeout, IdleTimeout: pc.IdleTimeout,
			ShutdownTimeout: pc.ShutdownTimeout, TLSCertFile: pc.TLSCertFile, TLSKeyFile: pc.TLSKeyFile,
			Log: a.log,
		}).Serve(gctx, a.public)
	})
	g.Go(func() error {
		return (&proxy.Server{
			Name: "admin", Handler: a.adminH,
			ReadHeaderTimeout: pc.ReadHeaderTimeout, IdleTimeout: pc.IdleTimeout,
			ShutdownTimeout: pc.ShutdownTimeout, Log: a.log,
		}).Serve(gctx, a.admin)
	})
	for _, r := range a.runners {
		g.Go(func() error { return r(gctx) })
	}
	return g.Wait()
}

func (a *App) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			a.log.Warn().Err(err).Msg("close")
		}
	}
	a.closers = nil
	if a.public != nil {
		a.public.Close()
	}
	if a.admin != nil {
		a.admin.Close()
	}
}

// provisionToken takes the configured admin token or keeps a generated
// one in the data dir, so restarts keep the same token.
func (a *App) provisionToken() error {
	if t := a.cfg.AdminToken(); t != "" {
		a.AdminToken = t
		return nil
	}
	path := filepath.Join(a.cfg.DataDir, "admin.token")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		a.AdminToken = strings.TrimSpace(string(b))
		return nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("admin token: %w", err)
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	a.AdminToken = hex.EncodeToString(b[:])
	a.TokenGenerated = true
	if err := os.WriteFile(path, []byte(a.AdminToken+"\n"), 0o600); err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	return nil
}
