package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
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
		fmt.Fprintln(stdout, strings.Join(scenarioNames(), "\n"))
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "stockpile-bench: unknown command %q\n%s\n", args[0], usage)
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
		var err error
		if env.Stockpile, err = stack.FindStockpile(env.Stockpile); err != nil {
			return nil, err
		}
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

// runOptions is the command line of `stockpile-bench run`: what the
// scenarios are given (bench.Env, its flags written straight into it) and
// what the runner and the report take.
type runOptions struct {
	bench.Env
	Load      load.Config
	Rounds    int
	JSON      string
	MinRatio  float64
	Verbose   bool
	Scenarios []string
}

const runUsage = `usage: stockpile-bench run [flags] SCENARIO…

Scenarios (README.md's Benchmarks section tells what each judges):
  npm-warm, warm-pypi, warm-maven, warm-cargo, warm-nuget, warm-ruby
                   a cached metadata document and artifact against nginx serving the same bytes
  npm-cold-burst   -burst clients at once after one never-fetched tarball (cold-burst-1000: 1,000)
  cold-10mb        a never-fetched 10 MB tarball through Stockpile against nginx: time ratio
  big-concurrent   -big-clients downloads at once of a warm -big-size tarball: Stockpile's RSS
  soak             install-like mixed load for -soak-duration: errors, RSS and its slope
  million          1,000,000 cached versions against 1,000: warm p99 ratio, start-up
  cluster          three replicas on PostgreSQL and SeaweedFS (skipped without the engines)

Flags (also accepted after the scenarios):
`

// parseRun parses `run`'s arguments. Flags may come before and after the
// scenario names. The scenarios check the bounds of their own flags (-burst,
// -big-*, -soak-*) when they are set up.
func parseRun(args []string, stderr io.Writer) (*runOptions, error) {
	o := &runOptions{}
	o.BigSize = scenario.DefaultBigSize
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, runUsage)
		fs.PrintDefaults()
	}
	byteSize := func(dst *int64) func(string) error {
		return func(v string) (err error) { *dst, err = parseByteSize(v); return err }
	}
	fs.IntVar(&o.Load.Connections, "c", 16, "connections, each its own keep-alive client (1-1000)")
	fs.DurationVar(&o.Load.Duration, "d", 10*time.Second, "measured duration of each run (at most 120s)")
	fs.IntVar(&o.Load.Requests, "n", 0, "measure a fixed number of requests per run instead of a duration")
	fs.DurationVar(&o.Load.Warmup, "warmup", 2*time.Second, "unmeasured warm-up of each run (at most 30s)")
	fs.DurationVar(&o.Load.Timeout, "timeout", 30*time.Second, "timeout of each request")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds; the targets of a scenario take turns in each (1-10)")
	fs.StringVar(&o.JSON, "json", "", "also write every number to this file")
	fs.Float64Var(&o.MinRatio, "min-ratio", 0, "exit 1 when a stockpile/nginx ratio of median req/s is below this")
	fs.StringVar(&o.Env.Stockpile, "stockpile", "", "Stockpile binary to start (default: stockpile next to this binary, else on PATH)")
	fs.StringVar(&o.Target, "target", "", "measure this running Stockpile's npm repository endpoint instead (its public:npmjs must be the bench's nginx: see --nginx-listen)")
	fs.StringVar(&o.Token, "token", "", "token for --target (sent as Bearer)")
	fs.IntVar(&o.TargetPID, "pid", 0, "process id of the --target server, to sample its RSS and CPU")
	fs.StringVar(&o.Nginx, "nginx", stack.DefaultNginx, "nginx binary (Debian package nginx)")
	fs.StringVar(&o.NginxListen, "nginx-listen", "", "loopback host:port for nginx (default: a free port)")
	fs.IntVar(&o.Burst, "burst", scenario.DefaultBurst, "npm-cold-burst: concurrent clients (1-1000)")
	fs.Func("big-size", "big-concurrent: the tarball's size, bytes or with KiB, MiB, GiB (default 1GiB)", byteSize(&o.BigSize))
	fs.IntVar(&o.BigClients, "big-clients", scenario.DefaultBigClients, "big-concurrent: concurrent downloads (1-1000)")
	fs.DurationVar(&o.SoakDuration, "soak-duration", scenario.DefaultSoakDuration, "soak: how long it runs (at most 2h)")
	fs.DurationVar(&o.SoakWarmup, "soak-warmup", 0, "soak: the warm-up, left out of the RSS slope (default: 2m, at most a fifth of the duration)")
	fs.Func("upstream-rate", "cold-10mb: cap the fake upstream's sending rate per response, bytes per second with K, M, G (default: unlimited loopback)", byteSize(&o.UpstreamRate))
	fs.StringVar(&o.MillionDir, "million-dir", "", "million: keep the populated 1M data in this directory and reuse it")
	fs.IntVar(&o.MillionVersions, "million-versions", 0, "million: versions of the large case (default 1000000, at least 1000)")
	fs.StringVar(&o.TempRoot, "tmp", "", "directory for the scenarios' working directories (default: the system's)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the working directories (fixtures, configs, logs)")
	fs.BoolVar(&o.Open, "open", false, "warm scenarios: run Stockpile without access keys or token at log_level warn and nginx without access log (default: both as deployed, Stockpile with an access key, a Bearer token on every request and its log at info to a file, nginx with access_log combined buffer=64k)")
	fs.BoolVar(&o.Verbose, "v", false, "debug logging")

	for rest := args; ; rest = rest[1:] {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		o.Scenarios = append(o.Scenarios, rest[0])
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// validate checks the bounds and the combinations of flags.
func (o *runOptions) validate() error {
	errs := []error{o.Load.Validate()}
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	names, known := strings.Join(scenarioNames(), ", "), newScenarios()
	check(len(o.Scenarios) > 0, "no scenario given: choose among %s", names)
	for i, s := range o.Scenarios {
		check(known[s] != nil, "unknown scenario %q: choose among %s", s, names)
		check(!slices.Contains(o.Scenarios[:i], s), "scenario %q is given twice", s)
	}
	check(o.Load.Timeout > 0 && o.Load.Timeout <= load.MaxDuration, "-timeout %s: must be above 0 and at most %s", o.Load.Timeout, load.MaxDuration)
	check(o.Rounds >= 1 && o.Rounds <= bench.MaxRounds, "-rounds %d: must be between 1 and %d", o.Rounds, bench.MaxRounds)
	check(o.BigClients >= 1, "-big-clients %d: must be at least 1", o.BigClients) // 0 would be the default
	check(o.UpstreamRate == 0 || o.UpstreamRate >= 64<<10, "-upstream-rate %d: want at least 64K bytes per second", o.UpstreamRate)
	check(o.MillionVersions >= 0, "-million-versions %d: must not be negative", o.MillionVersions)
	check(o.MinRatio >= 0, "-min-ratio %g: must not be negative", o.MinRatio)
	check(o.TargetPID >= 0 && (o.TargetPID == 0 || o.Target != ""), "--pid %d: a process id, and only with --target", o.TargetPID)
	if o.Target != "" {
		check(load.CheckLoopback(o.Target, true) == nil, "--target %q: want an absolute http(s) URL of an npm repository endpoint", o.Target)
		check(o.Env.Stockpile == "", "--stockpile and --target exclude each other")
	}
	check(o.Token == "" || o.Target != "", "--token is for --target")
	host, _, err := net.SplitHostPort(o.NginxListen)
	check(o.NginxListen == "" || err == nil && load.IsLoopbackHost(host), "--nginx-listen %q: want a loopback host:port", o.NginxListen)
	return errors.Join(errs...)
}

// parseByteSize reads a size: bytes, or a number with K, M or G (KiB, KB
// and the like, all binary).
func parseByteSize(v string) (int64, error) {
	if m := regexp.MustCompile(`(?i)^\s*(\d+)\s*(?:([kmg])i?)?b?\s*$`).FindStringSubmatch(v); m != nil {
		shift := 10 * strings.Index(" kmg", strings.ToLower(m[2]))
		if n, err := strconv.ParseInt(m[1], 10, 64); err == nil && n > 0 && n <= 1<<62>>shift {
			return n << shift, nil
		}
	}
	return 0, fmt.Errorf("size %q: want a positive number of bytes, or one with KiB, MiB or GiB", v)
}
