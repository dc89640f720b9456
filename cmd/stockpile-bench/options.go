package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/scenario"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
)

// runOptions is the command line of `stockpile-bench run`: what the
// scenarios are given (bench.Env, its flags written straight into it) and
// what the runner and the report take.
type runOptions struct {
	bench.Env
	Load     load.Config
	Rounds   int
	JSON     string
	MinRatio float64
	// Stockpile is --stockpile, the binary asked for; Env.Stockpile is the
	// one found.
	Stockpile string
	Verbose   bool
	Scenarios []string
}

const runUsage = `usage: stockpile-bench run [flags] SCENARIO…

Scenarios:
  npm-warm         Stockpile's cached packument and tarball against nginx serving the same files
  npm-cold-burst   N clients at once after one never-fetched tarball: upstream fetches and bytes
  cold-10mb        a never-fetched 10 MB tarball through Stockpile against nginx: time ratio (target <= 1.15)
  cold-burst-1000  npm-cold-burst at 1,000 clients: one upstream fetch, every client's bytes
  big-concurrent   -big-clients downloads at once of a warm -big-size tarball: Stockpile's RSS (target < 150 MiB)
  soak             install-like mixed load for -soak-duration: errors, RSS after warm-up and its slope
  warm-pypi, warm-maven, warm-cargo, warm-nuget, warm-ruby
                   a cached metadata document and artifact of that format against nginx (target ratio 0.8)
  million          1,000,000 cached versions against 1,000: warm p99 ratio (target <= 2), start-up (target < 3 s)
  cluster          three replicas on PostgreSQL and SeaweedFS: a 1,000-client cold burst costs one upstream fetch;
                   a replica's warm hits against the single node's (skipped without the engines)

Flags (also accepted after the scenarios):
`

// parseRun parses `run`'s arguments. Flags may come before and after the
// scenario names.
func parseRun(args []string, stderr io.Writer) (*runOptions, error) {
	o := &runOptions{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, runUsage)
		fs.PrintDefaults()
	}
	fs.IntVar(&o.Load.Connections, "c", 16, "connections, each its own keep-alive client (1-1000)")
	fs.DurationVar(&o.Load.Duration, "d", 10*time.Second, "measured duration of each run (at most 120s)")
	fs.IntVar(&o.Load.Requests, "n", 0, "measure a fixed number of requests per run instead of a duration")
	fs.DurationVar(&o.Load.Warmup, "warmup", 2*time.Second, "unmeasured warm-up of each run (at most 30s)")
	fs.DurationVar(&o.Load.Timeout, "timeout", 30*time.Second, "timeout of each request")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds; the targets of a scenario take turns in each (1-10)")
	fs.StringVar(&o.JSON, "json", "", "also write every number to this file")
	fs.Float64Var(&o.MinRatio, "min-ratio", 0, "exit 1 when a stockpile/nginx ratio of median req/s is below this")
	fs.StringVar(&o.Stockpile, "stockpile", "", "Stockpile binary to start (default: stockpile next to this binary, else on PATH)")
	fs.StringVar(&o.Target, "target", "", "measure this running Stockpile's npm repository endpoint instead (its public:npmjs must be the bench's nginx: see --nginx-listen)")
	fs.StringVar(&o.Token, "token", "", "token for --target (sent as Bearer)")
	fs.IntVar(&o.TargetPID, "pid", 0, "process id of the --target server, to sample its RSS and CPU")
	fs.StringVar(&o.Nginx, "nginx", stack.DefaultNginx, "nginx binary (Debian package nginx)")
	fs.StringVar(&o.NginxListen, "nginx-listen", "", "loopback host:port for nginx (default: a free port)")
	fs.IntVar(&o.Burst, "burst", scenario.DefaultBurst, "npm-cold-burst: concurrent clients (1-1000)")
	fs.Func("big-size", "big-concurrent: the tarball's size, bytes or with KiB, MiB, GiB (default 1GiB)", func(v string) error {
		n, err := parseByteSize(v)
		o.BigSize = n
		return err
	})
	fs.IntVar(&o.BigClients, "big-clients", scenario.DefaultBigClients, "big-concurrent: concurrent downloads (1-1000)")
	fs.DurationVar(&o.SoakDuration, "soak-duration", scenario.DefaultSoakDuration, "soak: how long it runs (at most 2h)")
	fs.DurationVar(&o.SoakWarmup, "soak-warmup", 0, "soak: the warm-up, left out of the RSS slope (default: 2m, at most a fifth of the duration)")
	fs.Func("upstream-rate", "cold-10mb: cap the fake upstream's sending rate per response, bytes per second with K, M, G (default: unlimited loopback)", func(v string) error {
		n, err := parseByteSize(v)
		o.UpstreamRate = n
		return err
	})
	fs.StringVar(&o.MillionDir, "million-dir", "", "million: keep the populated 1M data in this directory and reuse it (or STOCKPILE_BENCH_MILLION_DIR)")
	fs.IntVar(&o.MillionVersions, "million-versions", 0, "million: versions of the large case (default 1000000, or STOCKPILE_BENCH_MILLION_VERSIONS)")
	fs.StringVar(&o.TempRoot, "tmp", "", "directory for the scenarios' working directories (default: the system's)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the working directories (fixtures, configs, logs)")
	fs.BoolVar(&o.Open, "open", false, "warm scenarios: run Stockpile without access keys or token at log_level warn and nginx without access log (default: both as deployed, Stockpile with an access key, a Bearer token on every request and its log at info to a file, nginx with access_log combined buffer=64k)")
	fs.BoolVar(&o.Verbose, "v", false, "debug logging")

	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		o.Scenarios = append(o.Scenarios, rest[0])
		rest = rest[1:]
	}
	if err := o.validate(fs); err != nil {
		return nil, err
	}
	return o, nil
}

// validate checks the bounds and the combinations of flags.
func (o *runOptions) validate(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	if len(o.Scenarios) == 0 {
		errs = append(errs, fmt.Errorf("no scenario given: choose among %s", strings.Join(scenarioNames(), ", ")))
	}
	known := newScenarios()
	seen := map[string]bool{}
	for _, s := range o.Scenarios {
		if _, ok := known[s]; !ok {
			errs = append(errs, fmt.Errorf("unknown scenario %q: choose among %s", s, strings.Join(scenarioNames(), ", ")))
		}
		if seen[s] {
			errs = append(errs, fmt.Errorf("scenario %q is given twice", s))
		}
		seen[s] = true
	}
	if err := o.Load.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Load.Timeout <= 0 || o.Load.Timeout > load.MaxDuration {
		errs = append(errs, fmt.Errorf("-timeout %s: must be above 0 and at most %s", o.Load.Timeout, load.MaxDuration))
	}
	for _, b := range []struct {
		flag   string
		v, max int
	}{{"-rounds", o.Rounds, bench.MaxRounds}, {"-burst", o.Burst, scenario.MaxBurst}, {"-big-clients", o.BigClients, scenario.MaxBigClients}} {
		if b.v < 1 || b.v > b.max {
			errs = append(errs, fmt.Errorf("%s %d: must be between 1 and %d", b.flag, b.v, b.max))
		}
	}
	if o.BigSize == 0 {
		o.BigSize = scenario.DefaultBigSize
	}
	if o.BigSize < scenario.MinBigSize || o.BigSize > scenario.MaxBigSize {
		errs = append(errs, fmt.Errorf("-big-size %d: must be between %d and %d bytes", o.BigSize, int64(scenario.MinBigSize), int64(scenario.MaxBigSize)))
	}
	if o.SoakDuration < scenario.MinSoakDuration || o.SoakDuration > scenario.MaxSoakDuration {
		errs = append(errs, fmt.Errorf("-soak-duration %s: must be between %s and %s", o.SoakDuration, scenario.MinSoakDuration, scenario.MaxSoakDuration))
	}
	if o.SoakWarmup < 0 || (o.SoakWarmup > 0 && o.SoakWarmup >= o.SoakDuration) {
		errs = append(errs, fmt.Errorf("-soak-warmup %s: must be shorter than -soak-duration %s", o.SoakWarmup, o.SoakDuration))
	}
	if o.UpstreamRate < 0 || (o.UpstreamRate > 0 && o.UpstreamRate < 64<<10) {
		errs = append(errs, fmt.Errorf("-upstream-rate %d: want at least 64K bytes per second", o.UpstreamRate))
	}
	if o.MillionVersions < 0 {
		errs = append(errs, fmt.Errorf("-million-versions %d: must not be negative", o.MillionVersions))
	}
	if o.MinRatio < 0 {
		errs = append(errs, fmt.Errorf("-min-ratio %g: must not be negative", o.MinRatio))
	}
	if o.Target != "" {
		u, err := url.Parse(o.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--target %q: want an absolute http(s) URL of an npm repository endpoint", o.Target))
		}
		if set["stockpile"] {
			errs = append(errs, errors.New("--stockpile and --target exclude each other"))
		}
	} else {
		if o.Token != "" {
			errs = append(errs, errors.New("--token is for --target"))
		}
		if o.TargetPID != 0 {
			errs = append(errs, errors.New("--pid is for --target"))
		}
	}
	if o.TargetPID < 0 {
		errs = append(errs, fmt.Errorf("--pid %d: not a process id", o.TargetPID))
	}
	if o.NginxListen != "" {
		host, _, err := net.SplitHostPort(o.NginxListen)
		if err != nil || !load.IsLoopbackHost(host) {
			errs = append(errs, fmt.Errorf("--nginx-listen %q: want a loopback host:port", o.NginxListen))
		}
	}
	return errors.Join(errs...)
}

// parseByteSize reads a size: bytes, or a number with KiB, MiB or GiB
// (also K, M, G, KB, MB, GB, all binary).
func parseByteSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	upper := strings.ToUpper(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(upper, u.suffix) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, or one with KiB, MiB or GiB", v)
	}
	return n * mult, nil
}
