package stack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/internal/serverproc"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/proxy"
)

// Env is what a Stack is given of the command line.
type Env struct {
	Log *slog.Logger
	// TempRoot is where working directories are made ("" is the system's
	// temporary directory); Keep leaves them behind.
	TempRoot string
	Keep     bool
	// Nginx is the nginx binary; NginxListen its address ("" picks a port).
	Nginx       string
	NginxListen string
	// Stockpile is the binary to start; empty when Target is set.
	Stockpile string
	// Target is the npm endpoint of a running Stockpile repository to
	// measure instead of starting one; TargetPID, when set, is sampled.
	Target    string
	TargetPID int
	// Token authenticates to --target.
	Token string
	// Open runs the Deployed scenarios as they ran before: Stockpile
	// without access keys and at log_level warn, nginx without its log.
	Open bool
}

// RemoveDir removes a working directory, unless Keep is set: then it logs
// where the directory (what it holds) was left.
func (e Env) RemoveDir(dir, what string) error {
	if e.Keep {
		e.Log.Info("kept the "+what, "dir", dir)
		return nil
	}
	return os.RemoveAll(dir)
}

// Stack is what every scenario stands on: a working directory, nginx
// serving fixtures the scenario lays out (the fake upstream, and the
// baseline Stockpile is compared to), and the Stockpile under test whose
// external connections are that nginx. The scenario writes its files
// (which may name nginx's address, so they are written once the address
// is known) and says which connections Stockpile gets.
type Stack struct {
	env   Env
	o     Options
	dir   string
	nginx *Child
	sp    *Child

	Root     string // nginx's document root
	NginxURL string // http://127.0.0.1:PORT, no trailing slash
	// RepoURL is the endpoint of repository app for the format, no
	// trailing slash: http://127.0.0.1:PORT/bench/pypi/app.
	RepoURL      string
	StockpilePID int
	// Config is the configuration of the Stockpile the bench started (zero
	// with --target).
	Config proxy.Config
	// Token is the Bearer token every request to Stockpile carries: minted
	// through GetAuthorizationToken for a Deployed stack, --token's with
	// --target, else empty.
	Token string
}

// New returns a stack to bring Up.
func New(env Env) *Stack { return &Stack{env: env} }

// NginxPID returns nginx's master process.
func (s *Stack) NginxPID() int { return s.nginx.PID() }

// Options shape a Stack.
type Options struct {
	Scenario string // for the working directory's name and errors
	// Format is "npm", "pypi", … as in Stockpile's URLs. Repository app
	// reaches {Format}-store, whose Connection (default public:npmjs) is
	// nginx at ConnPath (default "/") with metadata TTL TTL (0: Stockpile's
	// default).
	Format, Connection, ConnPath string
	TTL                          time.Duration
	// AccessLog turns on nginx's access log (access.log in the working
	// directory).
	AccessLog bool
	// Deployed runs both servers as deployed, unless Env.Open: Stockpile
	// with an access key, a token on every request and its log at info
	// written to a file (stockpile.log), nginx with its access log in
	// the combined format through a 64 KiB buffer (combined.log).
	Deployed bool
	// Nginx is nginx's Types, Locations and LimitRate; the stack sets the
	// rest.
	Nginx NginxConfig
	// Populate writes the fixtures below root for an nginx at base
	// (http://127.0.0.1:PORT, no trailing slash). It is called again when
	// nginx must move to another port.
	Populate func(root, base string) error
}

// Up makes the working directory, starts nginx on the fixtures and starts
// Stockpile (or, for npm with --target, takes the running one).
func (s *Stack) Up(ctx context.Context, o Options) error {
	s.o = o
	if s.env.Target != "" && o.Format != "npm" {
		return fmt.Errorf("%s: --target measures an npm repository; this scenario needs a Stockpile the bench starts", o.Scenario)
	}
	dir, err := os.MkdirTemp(s.env.TempRoot, "stockpile-bench-"+o.Scenario+"-*")
	if err != nil {
		return fmt.Errorf("%s: %w", o.Scenario, err)
	}
	s.dir = dir
	// nginx's workers run as nobody when the bench is root.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", o.Scenario, err)
	}
	s.Root = filepath.Join(dir, "www")
	if err := s.startNginx(ctx); err != nil {
		return fmt.Errorf("%s: %w", o.Scenario, err)
	}
	if s.env.Target != "" {
		s.RepoURL = strings.TrimSuffix(s.env.Target, "/")
		s.StockpilePID = s.env.TargetPID
		s.Token = s.env.Token
		s.env.Log.Info("measuring an existing stockpile: its public:npmjs must be this nginx", "target", s.RepoURL, "nginx", s.NginxURL+"/")
		return nil
	}
	s.Config = Config(filepath.Join(dir, "stockpile-data"), StoreConfig{Repository: o.Format + "-store",
		Connection: cmp.Or(o.Connection, NPMJSConnection), URL: s.NginxURL + cmp.Or(o.ConnPath, "/"), TTL: o.TTL})
	if s.deployed() {
		s.Config.Auth.AccessKeys, s.Config.LogLevel = []proxy.AccessKey{newAccessKey()}, "info"
	}
	srv, err := StartStockpile(ctx, s.env.Stockpile, dir, s.Config, s.env.Log)
	if err != nil {
		return fmt.Errorf("%s: %w", o.Scenario, err)
	}
	s.sp = srv.Child
	s.StockpilePID = srv.PID()
	s.RepoURL = srv.URL + "/" + Domain + "/" + o.Format + "/" + AppRepo
	s.Token = srv.Token
	return nil
}

// deployed reports whether the servers run as deployed.
func (s *Stack) deployed() bool { return s.o.Deployed && !s.env.Open }

// Header returns Header(accept, the stack's token).
func (s *Stack) Header(accept string) http.Header { return Header(accept, s.Token) }

// Header returns the headers of a request to a Stockpile: Accept and a
// Bearer token, each when given.
func Header(accept, token string) http.Header {
	h := http.Header{}
	if accept != "" {
		h.Set("Accept", accept)
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// startNginx lays the fixtures out for nginx's address and starts nginx.
func (s *Stack) startNginx(ctx context.Context) error {
	return onFreePort(ctx, s.env.Log, "nginx", s.env.NginxListen, func(listen string) error {
		base := "http://" + listen
		if err := os.RemoveAll(s.Root); err != nil {
			return err
		}
		if err := os.MkdirAll(s.Root, 0o755); err != nil {
			return err
		}
		if s.o.Populate != nil {
			if err := s.o.Populate(s.Root, base); err != nil {
				return err
			}
		}
		cfg := s.o.Nginx
		cfg.Prefix, cfg.Root, cfg.Listen = filepath.Join(s.dir, "nginx"), s.Root, listen
		if s.o.AccessLog {
			cfg.AccessLog = filepath.Join(s.dir, "access.log")
		}
		if s.deployed() {
			cfg.CombinedLog = filepath.Join(s.dir, "combined.log")
		}
		c, err := StartNginx(ctx, s.env.Nginx, cfg, s.env.Log)
		if err == nil {
			s.nginx, s.NginxURL = c, base
		}
		return err
	})
}

// onFreePort calls try with a free loopback address (fixed instead, when
// set, and then once) up to three times: another process may take the
// port between its pick and the server's listen.
func onFreePort(ctx context.Context, log *slog.Logger, name, fixed string, try func(listen string) error) error {
	var err error
	for attempt := range 3 {
		listen := fixed
		if listen == "" {
			port, perr := load.FreePort()
			if perr != nil {
				return perr
			}
			listen = fmt.Sprintf("127.0.0.1:%d", port)
		}
		if err = try(listen); err == nil || fixed != "" || ctx.Err() != nil {
			return err
		}
		log.Warn(name+" did not start: retrying on another port", "attempt", attempt+1, "err", err)
	}
	return err
}

// Child is a server process the bench started (nginx, Stockpile).
type Child = serverproc.Process

// fileTail returns a serverproc Tail: the last 20 lines of the log at path.
func fileTail(path string) func() string {
	return func() string {
		raw, err := os.ReadFile(path)
		if err != nil {
			return "(no log: " + err.Error() + ")"
		}
		return serverproc.LastLines(string(raw), 20)
	}
}

// Accesses reads nginx's access log (Options.AccessLog).
func (s *Stack) Accesses() (AccessCounts, error) {
	f, err := os.Open(filepath.Join(s.dir, "access.log"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseAccessLog(f)
}

// Down stops Stockpile, then nginx, and removes the working directory
// (fixtures and Stockpile's data, a GiB for big-concurrent) unless --keep.
func (s *Stack) Down() error {
	var errs []error
	if s.sp != nil {
		errs = append(errs, StopStockpile(s.sp))
		s.sp = nil
	}
	if s.nginx != nil {
		errs = append(errs, StopNginx(s.nginx))
		s.nginx = nil
	}
	if s.dir != "" {
		errs = append(errs, s.env.RemoveDir(s.dir, "working directory"))
		s.dir = ""
	}
	return errors.Join(errs...)
}

// Info returns what the report says about the stack.
func (s *Stack) Info() map[string]any {
	m := map[string]any{"nginx_url": s.NginxURL, "stockpile_url": s.RepoURL}
	if s.deployed() {
		m["configuration"] = "as deployed: stockpile with an access key, a Bearer token on every request, log_level info to a file; nginx access_log combined buffer=64k"
	} else if s.o.Deployed {
		m["configuration"] = "open (-open): stockpile without access keys at log_level warn; nginx without access log"
	}
	if s.StockpilePID != 0 {
		m["stockpile_pid"] = s.StockpilePID
	}
	if s.sp != nil {
		m["stockpile_binary"] = s.env.Stockpile
	}
	if s.env.Keep && s.dir != "" {
		m["work_dir"] = s.dir
	}
	return m
}
