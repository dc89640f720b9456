package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// npmStack is what the npm scenarios stand on: a working directory, an
// npm fixture served by nginx, and the Stockpile under test (started here,
// or an existing one given with --target) whose public:npmjs is that nginx.
type npmStack struct {
	env Env

	dir       string
	fixture   *NPMFixture
	nginx     *child
	nginxURL  string // http://127.0.0.1:PORT, no trailing slash
	stockpile *child
	// repoURL is Stockpile's npm endpoint of repository app, no trailing
	// slash: http://127.0.0.1:PORT/bench/npm/app.
	repoURL string
	// stockpilePID is the process to sample (0: unknown, with --target and
	// no --pid).
	stockpilePID int
}

// up generates the fixture called name and starts nginx and Stockpile.
// accessLog turns on nginx's access log (access.log in the working
// directory).
func (s *npmStack) up(ctx context.Context, scenario, name string, accessLog bool) error {
	dir, err := os.MkdirTemp(s.env.TempRoot, "stockpile-bench-"+scenario+"-*")
	if err != nil {
		return fmt.Errorf("%s: %w", scenario, err)
	}
	s.dir = dir
	// nginx's workers run as nobody when the bench is root: they must be
	// able to walk into the document root.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", scenario, err)
	}
	if err := s.startNginx(ctx, name, accessLog); err != nil {
		return fmt.Errorf("%s: %w", scenario, err)
	}
	if s.env.Target != "" {
		s.repoURL = strings.TrimSuffix(s.env.Target, "/")
		s.stockpilePID = s.env.TargetPID
		s.env.Log.Info("measuring an existing stockpile: its public:npmjs must be this nginx", "target", s.repoURL, "nginx", s.nginxURL+"/")
		return nil
	}
	cfg := StockpileConfig{DataDir: filepath.Join(dir, "stockpile-data"), Upstream: s.nginxURL + "/"}
	c, base, err := startStockpile(ctx, s.env.Stockpile, dir, cfg, s.env.Log)
	if err != nil {
		return fmt.Errorf("%s: %w", scenario, err)
	}
	s.stockpile = c
	s.stockpilePID = c.PID()
	s.repoURL = base + "/" + benchDomain + "/npm/" + benchAppRepo
	return nil
}

// startNginx generates the fixture for nginx's address and starts nginx,
// on another port if the one picked was taken meanwhile.
func (s *npmStack) startNginx(ctx context.Context, name string, accessLog bool) error {
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
		f, err := GenerateNPMFixture(NPMFixtureOptions{Name: name, Upstream: base + "/"})
		if err != nil {
			return err
		}
		root := filepath.Join(s.dir, "www")
		if err := f.WriteNginxRoot(root); err != nil {
			return err
		}
		cfg := NginxConfig{
			Prefix: filepath.Join(s.dir, "nginx"),
			Root:   root,
			Listen: listen,
			User:   user, Group: group,
		}
		if accessLog {
			cfg.AccessLog = filepath.Join(s.dir, "access.log")
		}
		c, err := startNginx(ctx, s.env.Nginx, cfg, s.env.Log)
		if err == nil {
			s.fixture, s.nginx, s.nginxURL = f, c, base
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

// accessLogPath returns nginx's access log (when up was asked for one).
func (s *npmStack) accessLogPath() string { return filepath.Join(s.dir, "access.log") }

// down stops Stockpile, then nginx, and removes the working directory
// unless --keep.
func (s *npmStack) down() error {
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
func (s *npmStack) info() map[string]any {
	m := map[string]any{"nginx_url": s.nginxURL, "stockpile_url": s.repoURL}
	if s.fixture != nil {
		m["package"] = s.fixture.Name
		m["version"] = s.fixture.Version
		m["versions"] = s.fixture.Versions
		m["packument_bytes"] = len(s.fixture.Packument)
		m["tarball_bytes"] = len(s.fixture.Tarball)
	}
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
