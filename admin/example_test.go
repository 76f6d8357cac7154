package admin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/admin"
	"github.com/replaygate/replaygate/store"
)

// The admin handler wired to a local store, as serve does it.
func ExampleNew() {
	dataDir, _ := os.MkdirTemp("", "replaygate-example")
	defer os.RemoveAll(dataDir)
	reg := prometheus.NewRegistry()
	st, err := store.Open(store.DefaultConfig(), dataDir, zerolog.Nop(), reg)
	if err != nil {
		panic(err)
	}
	cfg := admin.DefaultConfig()
	if cfg.Token == "" {
		cfg.Token, _ = admin.NewToken() // serve prints it once
	}
	h, err := admin.New(cfg, admin.Deps{
		Replays:  st,
		Gatherer: reg,
		Ready:    func() error { return nil },
	}, zerolog.Nop())
	if err != nil {
		panic(err)
	}

	r := httptest.NewRequest(http.MethodGet, "/api/replays", nil)
	r.Header.Set("Authorization", "Bearer "+cfg.Token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body.String())
	// Output: 200 {"replays":[]}
}
