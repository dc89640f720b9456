// Command stockpile runs the Stockpile package proxy and is its client for
// people: it logs package managers in, manages tokens and checks data
// directories. `stockpile help` lists the commands.
package main

import (
	"context"
	"errors"
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
)

func main() {
	err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on stderr and returns the process status: 0 for
// success, 2 for a usage error (as flag and most Unix tools do), 1 for any
// other failure.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "stockpile:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", ue.command)
		return 2
	}
	return 1
}

// run runs the command line args (without the program name).
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	root, r := newRoot(&env{getenv: getenv, stdout: stdout, stderr: stderr, isTerminal: isTerminal})
	return execute(root, r, args)
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

	store, err := openStore(ctx, cfg, cfg.Storage.GCInterval, log.With("component", "storage"))
	if err != nil {
		return err
	}
	defer store.Close()

	srv, err := proxy.New(ctx, cfg, store, allFormats(), log)
	if err != nil {
		return err
	}
	// SIGHUP reads the known-malicious advisories again.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnSignal(ctx, hup, srv.ReloadAdvisories)
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

// reloadOnSignal calls reload for each signal received on sig until ctx
// ends. A failed reload is logged by reload itself and the previous set
// stays in use, so its error is not acted on here.
func reloadOnSignal(ctx context.Context, sig <-chan os.Signal, reload func() error) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			_ = reload()
		}
	}
}
