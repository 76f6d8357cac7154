package app

import (
	"context"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/replaygate/replaygate/admin"
	"github.com/replaygate/replaygate/forward"
	"github.com/replaygate/replaygate/ingest"
	"github.com/replaygate/replaygate/inject"
	"github.com/replaygate/replaygate/inject/web"
	"github.com/replaygate/replaygate/policy"
	"github.com/replaygate/replaygate/policy/scrub"
	"github.com/replaygate/replaygate/proxy"
	"github.com/replaygate/replaygate/spool"
	"github.com/replaygate/replaygate/store"
	"github.com/replaygate/replaygate/viewer"
)

// pipeline holds the live components behind the public and admin
// listeners.
type pipeline struct {
	reg      *prometheus.Registry
	scanner  *scrub.Scanner
	store    *store.Store
	consent  *policy.Consent
	spool    *spool.Spool
	rewriter *inject.Rewriter
	remote   []spool.Forwarder
}

// provisionPipeline opens the store, consent, spool and forwarders, and
// returns the handler for everything under the prefix.
func (a *App) provisionPipeline() (http.Handler, error) {
	cfg := a.cfg
	p := &pipeline{reg: prometheus.NewRegistry()}
	a.pipe = p
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	trust, err := proxy.NewTrust(cfg.Proxy.TrustedProxies)
	if err != nil {
		return nil, err
	}

	if p.scanner, err = scrub.New(cfg.Scrub); err != nil {
		return nil, err
	}
	// The store is always open: it answers the replay API and erasure even
	// when recordings go elsewhere (forward.local.enabled: false).
	if p.store, err = store.Open(cfg.Store, cfg.DataDir, a.logger("store"), p.reg); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, p.store.Close) // first in, last closed: after the spool's deliveries stop

	inj := cfg.Inject
	inj.Prefix = cfg.Prefix
	if inj.Enabled {
		if p.rewriter, err = inject.New(inj, inject.DefaultMarkup(cfg.Prefix), a.log, p.reg); err != nil {
			return nil, err
		}
	}

	assets, err := web.New(cfg.Web, cfg.Prefix, cfg.Consent.PolicyVersion, a.logger("web"))
	if err != nil {
		return nil, err
	}
	if p.consent, err = policy.New(cfg.Consent, cfg.DataDir, policy.Options{
		IsHTTPS:    trust.IsHTTPS,
		ClientIP:   trust.ClientIP,
		NoticeHash: cfg.Web.Banner.NoticeHash,
		Eraser:     p.store,
	}, a.log, p.reg); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, p.consent.Close)

	if p.remote, err = forward.Build(cfg.Forward, a.logger("forward"), p.reg); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() error { return forward.CloseAll(p.remote) })
	var fwds []spool.Forwarder
	if cfg.Forward.Local.Enabled {
		fwds = append(fwds, p.store)
	}
	fwds = append(fwds, p.remote...)
	if len(fwds) == 0 {
		return nil, errors.New("forward: no destination enabled; enable forward.local or configure sentry, http or nats")
	}
	for i, f := range fwds {
		fwds[i] = p.consent.DropWithdrawn(f)
	}
	if p.spool, err = spool.Open(cfg.Spool, cfg.DataDir, fwds, a.log, p.reg); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, p.spool.Close)

	ing, err := ingest.New(cfg.Ingest, ingest.Deps{Consent: p.consent, Scrubber: p.scanner, Spool: p.spool}, a.log, p.reg)
	if err != nil {
		return nil, err
	}

	a.runners = append(a.runners,
		p.spool.Run,
		p.consent.Run,
		func(ctx context.Context) error { p.store.RunJanitor(ctx); return nil },
	)

	mux := http.NewServeMux()
	mux.Handle(cfg.Prefix+"/consent", p.consent)
	mux.Handle(cfg.Prefix+"/ingest", ing)
	mux.Handle(cfg.Prefix+"/", assets) // gate.js, recorder.js; JSON 404 for anything else
	return mux, nil
}

func (a *App) rewriter() proxy.Rewriter {
	if a.pipe == nil || a.pipe.rewriter == nil {
		return nil
	}
	return a.pipe.rewriter
}

// ready reports whether uploads can be accepted.
func (a *App) ready() error {
	if err := a.pipe.spool.Err(); err != nil {
		return errors.New("spool unavailable")
	}
	return nil
}

func (a *App) adminHandler() (http.Handler, error) {
	cfg := a.cfg.Admin
	cfg.Token = a.AdminToken
	v, err := viewer.New(a.logger("viewer"))
	if err != nil {
		return nil, err
	}
	return admin.New(cfg, admin.Deps{
		Replays:  a.pipe.store,
		Consents: a.pipe.consent,
		Gatherer: a.pipe.reg,
		Ready:    a.ready,
		Viewer:   v,
	}, a.logger("admin"))
}
