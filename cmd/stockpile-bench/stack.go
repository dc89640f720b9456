package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// benchStack is what every scenario stands on: a working directory, nginx
// serving fixtures the scenario lays out, and the Stockpile under test whose
// external connections are that nginx. The scenario writes its files (which
// may name nginx's address, so they are written once the address is known)
// and says which connections Stockpile gets; npmStack is the npm case.
type benchStack struct {
	env Env
	o   stackOptions

	dir       string
	root      string // nginx's document root
	nginx     *child
	nginxURL  string // http://127.0.0.1:PORT, no trailing slash
	stockpile *child
	// repoURL is the endpoint of repository app for o.format, no trailing
	// slash: http://127.0.0.1:PORT/bench/pypi/app.
	repoURL      string
	stockpilePID int
	// dataDir is the data directory of the Stockpile the bench started
	// ("" with --target).
	dataDir string
}

// stackOptions shape a benchStack.
type stackOptions struct {
	scenario string // for the working directory's name and errors
	format   string // "npm", "pypi", … as in Stockpile's URLs
	// accessLog turns on nginx's access log (access.log in the working
	// directory).
	accessLog bool
	// types and locations are NginxConfig's (empty: the npm layout).
	types     map[string]string
	locations string
	// populate writes the fixtures below root for an nginx at base
	// (http://127.0.0.1:PORT, no trailing slash). It is called again when
	// nginx must move to another port.
	populate func(root, base string) error
	// npm makes public:npmjs point at nginx's root (repository npm-store).
	npm bool
	// stores returns the other formats' connections for nginx at base.
	stores func(base string) []StoreConfig
	// ttl is every connection's metadata TTL (0: Stockpile's default).
	ttl time.Duration
	// limitRate caps nginx's sending rate per response, bytes per second
	// (0: no cap): an upstream as fast as a good internet link, not as
	// loopback.
	limitRate int64
}

// up makes the working directory, starts nginx on the fixtures and starts
// Stockpile (or, for npm with --target, takes the running one).
func (s *benchStack) up(ctx context.Context, o stackOptions) error {
	s.o = o
	if s.env.Target != "" && !o.npm {
		return fmt.Errorf("%s: --target measures an npm repository; this scenario needs a Stockpile the bench starts", o.scenario)
	}
	dir, err := os.MkdirTemp(s.env.TempRoot, "stockpile-bench-"+o.scenario+"-*")
	if err != nil {
		return fmt.Errorf("%s: %w", o.scenario, err)
	}
	s.dir = dir
	// nginx's workers run as nobody when the bench is root.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", o.scenario, err)
	}
	s.root = filepath.Join(dir, "www")
	if err := s.startNginx(ctx); err != nil {
		return fmt.Errorf("%s: %w", o.scenario, err)
	}
	if s.env.Target != "" {
		s.repoURL = strings.TrimSuffix(s.env.Target, "/")
		s.stockpilePID = s.env.TargetPID
		s.env.Log.Info("measuring an existing stockpile: its public:npmjs must be this nginx", "target", s.repoURL, "nginx", s.nginxURL+"/")
		return nil
	}
	cfg := StockpileConfig{DataDir: filepath.Join(dir, "stockpile-data"), TTL: o.ttl}
	if o.npm {
		cfg.Upstream = s.nginxURL + "/"
	}
	if o.stores != nil {
		cfg.Stores = o.stores(s.nginxURL)
	}
	c, base, err := startStockpile(ctx, s.env.Stockpile, dir, cfg, s.env.Log)
	if err != nil {
		return fmt.Errorf("%s: %w", o.scenario, err)
	}
	s.stockpile = c
	s.stockpilePID = c.PID()
	s.dataDir = cfg.DataDir
	s.repoURL = base + "/" + benchDomain + "/" + o.format + "/" + benchAppRepo
	return nil
}

// startNginx lays the fixtures out for nginx's address and starts nginx, on
// another port if the one picked was taken meanwhile.
func (s *benchStack) startNginx(ctx context.Context) error {
	user, group := nginxWorkerUser()
	var lastErr error
	for attempt := range 3 {
		listen := s.env.NginxListen
		if listen == "" {
			port, err := freeLoopbackPort()
			if err != nil {
				return err
			}
			listen = fmt.Sprintf("127.0.0.1:%d", port)
		}
		base := "http://" + listen
		if err := os.RemoveAll(s.root); err != nil {
			return err
		}
		if err := os.MkdirAll(s.root, 0o755); err != nil {
			return err
		}
		if s.o.populate != nil {
			if err := s.o.populate(s.root, base); err != nil {
				return err
			}
		}
		cfg := NginxConfig{
			Prefix: filepath.Join(s.dir, "nginx"),
			Root:   s.root,
			Listen: listen,
			User:   user, Group: group,
			Types:     s.o.types,
			Locations: s.o.locations,
			LimitRate: s.o.limitRate,
		}
		if s.o.accessLog {
			cfg.AccessLog = s.accessLogPath()
		}
		c, err := startNginx(ctx, s.env.Nginx, cfg, s.env.Log)
		if err == nil {
			s.nginx, s.nginxURL = c, base
			return nil
		}
		lastErr = err
		if s.env.NginxListen != "" || ctx.Err() != nil {
			break
		}
		s.env.Log.Warn("nginx did not start: retrying on another port", "attempt", attempt+1, "err", err)
	}
	return lastErr
}

// accessLogPath returns nginx's access log (when asked for one).
func (s *benchStack) accessLogPath() string { return filepath.Join(s.dir, "access.log") }

// accessCounts reads nginx's access log.
func (s *benchStack) accessCounts() (AccessCounts, error) {
	f, err := os.Open(s.accessLogPath())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseAccessLog(f)
}

// down stops Stockpile, then nginx, and removes the working directory
// (fixtures and Stockpile's data, a GiB for big-concurrent) unless --keep.
func (s *benchStack) down() error {
	var errs []error
	if s.stockpile != nil {
		errs = append(errs, stopStockpile(s.stockpile))
		s.stockpile = nil
	}
	if s.nginx != nil {
		errs = append(errs, stopNginx(s.nginx))
		s.nginx = nil
	}
	if s.dir != "" {
		if s.env.Keep {
			s.env.Log.Info("kept the working directory", "dir", s.dir)
		} else {
			errs = append(errs, os.RemoveAll(s.dir))
		}
		s.dir = ""
	}
	return errors.Join(errs...)
}

// info returns what the report says about the stack.
func (s *benchStack) info() map[string]any {
	m := map[string]any{"nginx_url": s.nginxURL, "stockpile_url": s.repoURL}
	if s.stockpilePID != 0 {
		m["stockpile_pid"] = s.stockpilePID
	}
	if s.stockpile != nil {
		m["stockpile_binary"] = s.env.Stockpile
	}
	if s.env.Keep && s.dir != "" {
		m["work_dir"] = s.dir
	}
	return m
}

// writeFiles writes files (paths relative to root, slash-separated) with
// world-readable permissions, for nginx's workers.
func writeFiles(root string, files map[string][]byte) error {
	for p, body := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if !strings.HasPrefix(full, filepath.Clean(root)+string(filepath.Separator)) {
			return fmt.Errorf("fixture path %q leaves the document root", p)
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, body, 0o644); err != nil {
			return err
		}
	}
	return nil
}
