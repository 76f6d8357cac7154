package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// Server is one listener with graceful shutdown.
type Server struct {
	// Name appears in logs ("public", "admin").
	Name string
	// Handler serves requests.
	Handler http.Handler
	// ReadHeaderTimeout and IdleTimeout bound slow and idle visitors.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// ShutdownTimeout is how long in-flight requests may drain.
	ShutdownTimeout time.Duration
	// TLSCertFile and TLSKeyFile, when set, serve HTTPS and HTTP/2.
	TLSCertFile, TLSKeyFile string
	// Log receives lifecycle messages.
	Log zerolog.Logger
}

// Listen opens addr; Serve then runs on the listener. Split so callers can
// learn the bound address (":0") before serving.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}

// Serve runs until ctx is cancelled, then stops accepting, lets in-flight
// requests finish for up to ShutdownTimeout, and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if s.TLSCertFile != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if s.TLSCertFile != "" {
			err = srv.ServeTLS(ln, s.TLSCertFile, s.TLSKeyFile)
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	s.Log.Info().Str("listener", s.Name).Str("addr", ln.Addr().String()).Msg("listening")
	select {
	case err := <-errc:
		return fmt.Errorf("%s listener: %w", s.Name, err)
	case <-ctx.Done():
	}
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s.Log.Info().Str("listener", s.Name).Dur("drain", timeout).Msg("shutting down")
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.Log.Warn().Str("listener", s.Name).Msg("drain timeout: closing remaining connections")
		_ = srv.Close()
	}
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) {
		return fmt.Errorf("%s listener: %w", s.Name, e)
	}
	return nil
}
