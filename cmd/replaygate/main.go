// Command replaygate is a reverse-proxy sidecar that adds privacy-first
// session replay to a website without touching its code.
//
// Usage:
//
//	replaygate serve [--config FILE] [--listen ADDR] [--upstream URL] [--admin-listen ADDR] [--data-dir DIR]
//	replaygate demo [--listen ADDR] [--admin-listen ADDR] [--data-dir DIR]
//	replaygate scrub [--config FILE] [FILE]
//	replaygate config check FILE
//	replaygate version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/replaygate/replaygate/app"
	"github.com/replaygate/replaygate/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `replaygate — privacy-first session replay as a reverse-proxy sidecar

Usage:
  replaygate serve [--config FILE] [--listen ADDR] [--upstream URL] [--admin-listen ADDR] [--data-dir DIR]
  replaygate demo [--listen ADDR] [--admin-listen ADDR] [--data-dir DIR]
  replaygate scrub [--config FILE] [FILE]
  replaygate config check FILE
  replaygate version

Environment: REPLAYGATE_CONFIG, REPLAYGATE_LISTEN, REPLAYGATE_UPSTREAM,
REPLAYGATE_ADMIN_LISTEN, REPLAYGATE_ADMIN_TOKEN, REPLAYGATE_DATA_DIR,
REPLAYGATE_CONSENT_SECRET (flags > env > file > defaults).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && (os.Args[1] == "serve" || os.Args[1] == "demo") {
		sidecarProcs(os.Getenv)
	}
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "replaygate:", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run dispatches a subcommand; main and the tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, env)
	case "demo":
		return demoCmd(ctx, args[1:], stdout, stderr, env)
	case "scrub":
		return scrubCmd(args[1:], stdin, stdout, env)
	case "config":
		if len(args) == 3 && args[1] == "check" {
			return configCheck(args[2], stdout, env)
		}
		return usageError{"config check FILE"}
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "replaygate", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError{"unknown command " + args[0]}
}

// serveFlags are the flags shared by serve and demo.
type serveFlags struct {
	fs                                          *flag.FlagSet
	config, listen, upstream, adminListen, data string
}

func newServeFlags(name string, stderr io.Writer) *serveFlags {
	f := &serveFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.config, "config", "", "YAML config file (env REPLAYGATE_CONFIG)")
	f.fs.StringVar(&f.listen, "listen", "", "public listen address (env REPLAYGATE_LISTEN)")
	f.fs.StringVar(&f.adminListen, "admin-listen", "", "admin listen address (env REPLAYGATE_ADMIN_LISTEN)")
	f.fs.StringVar(&f.data, "data-dir", "", "data directory (env REPLAYGATE_DATA_DIR)")
	if name == "serve" {
		f.fs.StringVar(&f.upstream, "upstream", "", "upstream site URL (env REPLAYGATE_UPSTREAM)")
	}
	return f
}

// load applies file, env and flags in order of precedence.
func (f *serveFlags) load(args []string, env func(string) string) (config.Config, error) {
	if err := f.fs.Parse(args); err != nil {
		return config.Config{}, usageError{err.Error()}
	}
	if f.fs.NArg() > 0 {
		return config.Config{}, usageError{"unexpected argument " + f.fs.Arg(0)}
	}
	path := f.config
	if path == "" {
		path = env("REPLAYGATE_CONFIG")
	}
	cfg, err := config.Load(path, env)
	if err != nil {
		return cfg, err
	}
	for _, o := range []struct {
		v   string
		dst *string
	}{{f.listen, &cfg.Listen}, {f.upstream, &cfg.Upstream}, {f.adminListen, &cfg.AdminListen}, {f.data, &cfg.DataDir}} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	return cfg, nil
}

func newLogger(cfg config.Config, w io.Writer) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	if cfg.Log.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	f := newServeFlags("serve", stderr)
	cfg, err := f.load(args, env)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	a, err := app.New(cfg, log)
	if err != nil {
		return err
	}
	if a.TokenGenerated {
		fmt.Fprintf(stdout, "admin token (generated, kept in %s/admin.token): %s\n", cfg.DataDir, a.AdminToken)
	}
	log.Info().Str("public", a.PublicAddr()).Str("admin", a.AdminAddr()).Str("version", version).
		Int("gomaxprocs", runtime.GOMAXPROCS(0)).Msg("replaygate started")
	return a.Run(ctx)
}

func configCheck(path string, stdout io.Writer, env func(string) string) error {
	cfg, err := config.Load(path, env)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%s is not valid:\n%w", path, err)
	}
	out, err := cfg.Redacted()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# %s is valid; effective configuration (secrets redacted):\n", path)
	_, err = stdout.Write(out)
	return err
}
