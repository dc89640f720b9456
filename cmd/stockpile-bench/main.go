package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/million"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/scenario"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
)

// Exit codes: exitFail for an error, a ratio below --min-ratio or a failed
// check; exitUsage for a bad command line.
const (
	exitOK    = 0
	exitFail  = 1
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
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
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
		fmt.Fprintln(stdout, strings.Join(scenarioNames(), "\n"))
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return exitOK
	}
	if cmd != "" {
		fmt.Fprintf(stderr, "stockpile-bench: unknown command %q\n", cmd)
	}
	fmt.Fprintln(stderr, usage)
	return exitUsage
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
	rep := bench.NewReport(started, o.Load, o.Rounds, o.MinRatio, stack.NginxVersion(o.Nginx), reps)
	werr := rep.WriteText(stdout)
	if werr == nil && o.JSON != "" {
		werr = rep.WriteJSON(o.JSON)
	}
	if werr != nil {
		log.Error("write report", "err", werr)
	}
	if err != nil || werr != nil || !rep.OK {
		return exitFail
	}
	return exitOK
}

// measureAll runs the scenarios one after another and returns the reports
// of those that finished; it stops at the first that fails.
func measureAll(ctx context.Context, o *runOptions, log *slog.Logger) ([]*bench.ScenarioReport, error) {
	env := o.Env
	env.Log, env.Timeout, env.Connections = log, o.Load.Timeout, o.Load.Connections
	if _, err := os.Stat(o.Nginx); err != nil {
		return nil, fmt.Errorf("nginx %s: %w (install Debian's nginx: apt-get install -y nginx)", o.Nginx, err)
	}
	if o.Target == "" {
		bin, err := stack.FindStockpile(o.Stockpile)
		if err != nil {
			return nil, err
		}
		env.Stockpile = bin
	}
	r := &bench.Runner{Load: o.Load, Rounds: o.Rounds, Pause: 250 * time.Millisecond, Log: log}
	ctors := newScenarios()
	var reps []*bench.ScenarioReport
	for _, name := range o.Scenarios {
		rep, err := r.Run(ctx, ctors[name](env))
		if errors.Is(err, scenario.ErrEnginesAbsent) {
			log.Warn("scenario skipped", "scenario", name, "reason", err)
			continue
		}
		if err != nil {
			return reps, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

// newScenarios returns the constructors of every scenario, by name.
func newScenarios() map[string]func(bench.Env) bench.Scenario {
	m := scenario.Constructors()
	m["million"] = million.New
	return m
}

// scenarioNames returns the known scenario names, sorted.
func scenarioNames() []string { return slices.Sorted(maps.Keys(newScenarios())) }
