package app

import (
	"net/http"

	"github.com/replaygate/replaygate/proxy"
)

// provisionPipeline builds the public endpoints under the prefix.
func (a *App) provisionPipeline() (http.Handler, error) {
	mux := http.NewServeMux()
	return mux, nil
}

func (a *App) rewriter() proxy.Rewriter { return nil }

func (a *App) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ok"}`)) })
	return mux
}
