package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // an error, a ratio below --min-ratio, a failed check
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  stockpile-bench run [flags] SCENARIO…   measure (stockpile-bench run -h for the flags)
  stockpile-bench list                     list the scenarios`

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		o, err := parseRun(args[1:], stderr)
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		if err != nil {
			fmt.Fprintln(stderr, "stockpile-bench:", err)
			return exitUsage
		}
		return runScenarios(ctx, o, stdout, stderr)
	case "list":
		for _, n := range scenarioNames() {
			fmt.Fprintln(stdout, n)
		}
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "stockpile-bench: unknown command %q\n%s\n", args[0], usage)
		return exitUsage
	}
}

// runScenarios runs every scenario of o in turn and reports them.
func runScenarios(ctx context.Context, o *runOptions, stdout, stderr io.Writer) int {
	level := slog.LevelInfo
	if o.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	started := time.Now()
	reps, err := measureAll(ctx, o, log)
	if err != nil {
		log.Error("benchmark failed", "err", err)
	}
	if len(reps) == 0 {
		return exitFail
	}
	rep := newReport(started, o.Load, o.Rounds, o.MinRatio, nginxVersion(o.Nginx), reps)
	if werr := rep.WriteText(stdout); werr != nil {
		log.Error("write report", "err", werr)
		return exitFail
	}
	if o.JSON != "" {
		if werr := rep.WriteJSON(o.JSON); werr != nil {
			log.Error("write report", "err", werr)
			return exitFail
		}
	}
	if err != nil || !rep.OK {
		return exitFail
	}
	return exitOK
}

// measureAll runs the scenarios one after another and returns the reports
// of those that finished; it stops at the first that fails.
func measureAll(ctx context.Context, o *runOptions, log *slog.Logger) ([]*ScenarioReport, error) {
	env := Env{
		Log: log, TempRoot: o.TempRoot, Keep: o.Keep,
		Nginx: o.Nginx, NginxListen: o.NginxListen,
		Target: o.Target, Token: o.Token, TargetPID: o.TargetPID,
		Burst: o.Burst, Timeout: o.Load.Timeout,
		BigSize: o.BigSize, BigClients: o.BigClients,
		Connections:  o.Load.Connections,
		SoakDuration: o.SoakDuration, SoakWarmup: o.SoakWarmup,
		UpstreamRate: o.UpstreamRate,
		MillionDir:   o.MillionDir, MillionVersions: o.MillionVersions,
	}
	if _, err := os.Stat(o.Nginx); err != nil {
		return nil, fmt.Errorf("nginx %s: %w (install Debian's nginx: apt-get install -y nginx)", o.Nginx, err)
	}
	if o.Target == "" {
		bin, err := findStockpile(o.Stockpile)
		if err != nil {
			return nil, err
		}
		env.Stockpile = bin
	}
	r := &runner{load: o.Load, rounds: o.Rounds, pause: 250 * time.Millisecond, log: log}
	ctors := newScenarios()
	var reps []*ScenarioReport
	for _, name := range o.Scenarios {
		rep, err := r.run(ctx, ctors[name](env))
		if err != nil {
			return reps, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

// nginxVersion returns "nginx/1.22.1", or "" when it cannot tell.
func nginxVersion(bin string) string {
	out, err := exec.Command(bin, "-v").CombinedOutput()
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(out))
	if _, v, ok := strings.Cut(s, "version: "); ok {
		return v
	}
	return s
}
