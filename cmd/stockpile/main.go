// Command stockpile runs the Stockpile package proxy.
//
//	stockpile serve [--config FILE] [--listen ADDR] [--data-dir DIR]
//	stockpile check-config --config FILE
//	stockpile fsck [--config FILE] [--data-dir DIR]
//	stockpile rotate-token-key [--config FILE] [--data-dir DIR]
//	stockpile token create|list|revoke --endpoint-url URL --domain D ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/cargo"
	"github.com/stockpile-proxy/stockpile/formats/maven"
	"github.com/stockpile-proxy/stockpile/formats/npm"
	"github.com/stockpile-proxy/stockpile/formats/nuget"
	"github.com/stockpile-proxy/stockpile/formats/pypi"
	"github.com/stockpile-proxy/stockpile/formats/rubygems"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/logbuf"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "stockpile:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  stockpile serve [--config FILE] [--listen ADDR] [--data-dir DIR]
  stockpile check-config --config FILE
  stockpile fsck [--config FILE] [--data-dir DIR]   (offline: rehash every blob, take out corrupt ones)
  stockpile rotate-token-key [--config FILE] [--data-dir DIR]   (server stopped)
  stockpile token create|list|revoke --endpoint-url URL --domain D ...   (see stockpile token)

Environment overrides: STOCKPILE_LISTEN, STOCKPILE_DATA_DIR, STOCKPILE_BASE_URL,
STOCKPILE_LOG_LEVEL, STOCKPILE_NPMJS_URL, STOCKPILE_ANONYMOUS_READ.`

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command")
	}
	if args[0] == "token" {
		return tokenCommand(args[1:], getenv, stdout, stderr)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML)")
	listen := fs.String("listen", "", "address to listen on (overrides the file and STOCKPILE_LISTEN)")
	dataDir := fs.String("data-dir", "", "directory of the database (overrides the file and STOCKPILE_DATA_DIR)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := proxy.Load(*configPath, getenv)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	switch args[0] {
	case "check-config":
		fmt.Fprintln(stdout, "configuration is valid")
		return nil
	case "serve":
		return serve(cfg, stderr)
	case "fsck":
		return fsck(cfg, stdout, stderr)
	case "rotate-token-key":
		return rotateTokenKey(cfg, stdout, stderr)
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func serve(cfg *proxy.Config, stderr io.Writer) error {
	// The log (one access line per request) goes through a buffer flushed
	// every DefaultInterval and when serve returns, after the graceful
	// shutdown has let every request finish and write its line.
	lw := logbuf.New(stderr, logbuf.DefaultSize)
	defer lw.Close()
	log := newLogger(cfg, lw)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tick := time.NewTicker(logbuf.DefaultInterval)
	defer tick.Stop()
	flushCtx, stopFlush := context.WithCancel(context.Background())
	defer stopFlush()
	go lw.FlushOn(flushCtx, tick.C)

	store, err := badgerstore.Open(badgerstore.Options{Dir: cfg.DataDir, GCInterval: cfg.Storage.GCInterval}, log.With("component", "storage"))
	if err != nil {
		return err
	}
	defer store.Close()

	srv, err := proxy.New(ctx, cfg, store, allFormats(), log)
	if err != nil {
		return err
	}
	addr, forced := cfg.ListenAddr()
	if forced {
		log.Warn("no access keys configured: listening on loopback only", "configured", cfg.Listen, "listen", addr)
	}
	switch cfg.AccessMode() {
	case proxy.ModeOpen:
		log.Warn("no access keys configured: every request is allowed without credentials")
	case proxy.ModeAllAdmin:
		log.Warn("no access key names a policy (policy, policy_file or admin: true): every access key is an administrator of every domain; permissions policies can still deny")
	case proxy.ModePolicies:
		log.Info("identity and permissions policies decide every request; an access key without a policy is allowed only what permissions policies grant it", "account", cfg.Auth.Account)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("stockpile listening", "addr", ln.Addr().String(), "data_dir", cfg.DataDir)
	return srv.Serve(ctx, ln)
}

// allFormats lists the formats this binary serves, explicitly.
func allFormats() []formats.Format {
	return []formats.Format{npm.New(), pypi.New(), maven.New(), nuget.New(), rubygems.New(), cargo.New()}
}

func newLogger(cfg *proxy.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
