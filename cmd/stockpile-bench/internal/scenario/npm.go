// Package scenario holds the scenarios that stand on a stack of nginx and
// Stockpile: npm-warm, npm-cold-burst, cold-burst-1000, cold-10mb,
// big-concurrent, soak, cluster and warm-{pypi,maven,cargo,nuget,ruby}.
package scenario

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/fixture"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

// ErrNotServed is returned when Stockpile answers 404 for the npm fixture:
// its binary does not serve npm (yet), or the target is not an npm
// repository whose upstream is the bench's nginx.
var ErrNotServed = errors.New("stockpile does not serve the npm fixture")

// npmScenario is what npm-warm, the cold bursts and cluster share: a stack
// whose nginx serves one generated npm package as the public registry does
// and whose Stockpile (or --target's) has nginx as public:npmjs, their
// targets, what their report says, and what to stop besides the stack.
type npmScenario struct {
	*stack.Stack
	env      bench.Env
	name     string
	deployed bool // stack.Options.Deployed
	fixture  *formattest.NPMPackage
	targets  []bench.Target
	info     map[string]any // beside the stack's and the fixture's
	undo     []func() error // run by Teardown, last first
}

func newNPMScenario(env bench.Env, name string, deployed bool) npmScenario {
	return npmScenario{Stack: stack.New(env.Env), env: env, name: name, deployed: deployed, info: map[string]any{}}
}

// up generates the fixture called pkg for nginx's address and starts nginx
// (its access log on when accessLog) and Stockpile.
func (s *npmScenario) up(ctx context.Context, pkg string, accessLog bool) error {
	return s.Up(ctx, stack.Options{
		Scenario: s.name, Format: "npm", AccessLog: accessLog, Deployed: s.deployed,
		Populate: func(root, base string) error {
			f, err := formattest.GenerateNPM(formattest.NPMOptions{Name: pkg, Upstream: base + "/"})
			if err != nil {
				return err
			}
			s.fixture = f
			return fixture.WriteNPM(root, f)
		},
	})
}

// fetch GETs url from Stockpile with Accept accept, n times (the engine
// keeps a document from its second rendering on), and returns the last
// answer, which must be want when want is set. A 404 is ErrNotServed.
func (s *npmScenario) fetch(ctx context.Context, c *http.Client, what, url, accept string, n int, want []byte) (b []byte, err error) {
	for range n {
		if b, _, err = load.Fetch(ctx, c, url, s.Header(accept)); err != nil {
			if se, ok := errors.AsType[*load.StatusError](err); ok && se.Status == http.StatusNotFound {
				err = fmt.Errorf("%w: %w", ErrNotServed, err)
			}
			return nil, fmt.Errorf("%s: warm the %s: %w", s.name, what, err)
		}
	}
	if want != nil && !bytes.Equal(b, want) {
		return nil, fmt.Errorf("%s: stockpile's %s differs from the fixture (%d bytes, want %d)", s.name, what, len(b), len(want))
	}
	return b, nil
}

// Name implements Scenario.
func (s *npmScenario) Name() string { return s.name }

// Targets implements Scenario.
func (s *npmScenario) Targets() []bench.Target { return s.targets }

// Teardown implements Scenario: undo, then the stack.
func (s *npmScenario) Teardown() error {
	var errs []error
	for i := len(s.undo) - 1; i >= 0; i-- {
		errs = append(errs, s.undo[i]())
	}
	s.undo = nil
	return errors.Join(append(errs, s.Down())...)
}

// Info implements Describer: the stack, the fixture, and the scenario's own.
func (s *npmScenario) Info() map[string]any {
	m := s.Stack.Info()
	if f := s.fixture; f != nil {
		m["package"], m["version"], m["versions"] = f.Name, f.Version, f.Versions
		m["packument_bytes"], m["tarball_bytes"] = len(f.Packument), len(f.Tarball)
	}
	maps.Copy(m, s.info)
	return m
}

// nonce returns what no other run's names have: the time and random
// bytes, for packages Stockpile must never have seen.
func nonce() string { return fmt.Sprintf("%d-%s", time.Now().Unix(), strings.ToLower(rand.Text()[:8])) }

// Constructors returns the scenarios of this package by name: npm's warm,
// cold and memory scenarios, and the warm scenario of each other format.
func Constructors() map[string]func(bench.Env) bench.Scenario {
	m := map[string]func(bench.Env) bench.Scenario{
		"npm-warm":        func(e bench.Env) bench.Scenario { return &npmWarm{newNPMScenario(e, "npm-warm", true)} },
		"npm-cold-burst":  func(e bench.Env) bench.Scenario { return newColdBurst(e, "npm-cold-burst", e.Burst) },
		"cold-10mb":       func(e bench.Env) bench.Scenario { return newCold10MB(e) },
		"cold-burst-1000": func(e bench.Env) bench.Scenario { return newColdBurst(e, "cold-burst-1000", coldBurst1000Clients) },
		"big-concurrent":  func(e bench.Env) bench.Scenario { return newBigConcurrent(e) },
		"soak":            func(e bench.Env) bench.Scenario { return newSoak(e) },
		"cluster":         func(e bench.Env) bench.Scenario { return newCluster(e) },
	}
	for _, spec := range fixture.Formats {
		m[spec.Scenario] = func(e bench.Env) bench.Scenario { return newFormatWarm(e, spec) }
	}
	return m
}

// npmWarm measures the cached path: a packument and a tarball Stockpile has
// already fetched once, against nginx serving the same files from disk.
type npmWarm struct{ npmScenario }

// Setup implements Scenario: the stack, then GETs through Stockpile so that
// the measured runs are all hits. The targets: the packument, abbreviated
// and full, each without and with gzip, then the tarball.
func (s *npmWarm) Setup(ctx context.Context) error {
	if err := s.up(ctx, "stockpile-bench-warm", false); err != nil {
		return err
	}
	f := s.fixture
	c := load.Client(s.env.Timeout, false)
	defer c.CloseIdleConnections()

	// Through Stockpile, as npm asks: the full packument, then the tarball
	// its dist.tarball names.
	spDoc := s.RepoURL + f.PackumentPath()
	doc, err := s.fetch(ctx, c, "packument", spDoc, "application/json", 1, nil)
	if err != nil {
		return err
	}
	tarballURL, err := f.CheckPackument(doc)
	if err == nil && !strings.HasPrefix(tarballURL, s.RepoURL+"/") {
		err = fmt.Errorf("it points the tarball at %s, not below %s", tarballURL, s.RepoURL)
	}
	if err != nil {
		return fmt.Errorf("npm-warm: packument from stockpile: %w", err)
	}
	if _, err := s.fetch(ctx, c, "tarball", tarballURL, "", 1, f.Tarball); err != nil {
		return err
	}

	// From nginx: the same files, byte for byte.
	for path, want := range map[string][]byte{f.PackumentPath(): f.Packument, f.TarballPath(): f.Tarball} {
		if got, _, err := load.Fetch(ctx, c, s.NginxURL+path, nil); err != nil || !bytes.Equal(got, want) {
			return fmt.Errorf("npm-warm: nginx's %s is not the fixture's (err %v)", path, err)
		}
	}
	s.env.Log.Info("npm-warm: warmed", "packument_bytes", len(doc), "nginx_packument_bytes", len(f.Packument), "tarball_bytes", len(f.Tarball))

	// The packument as npm install asks for it (abbreviated) and in full,
	// each asked twice more first, against nginx serving Stockpile's bytes.
	docs := []metaDoc{{"abbreviated packument", spDoc, npmInstallAccept}, {"packument", spDoc, "application/json"}}
	for _, d := range docs {
		if _, err := s.fetch(ctx, c, d.Pair, d.URL, d.Accept, 2, nil); err != nil {
			return err
		}
	}
	remote := s.env.Target != ""
	if s.targets, s.info, err = docTargets(ctx, s.Stack, docs, remote); err != nil {
		return fmt.Errorf("npm-warm: %w", err)
	}
	s.targets = append(s.targets, pairTargets(s.Stack, remote, "tarball", "", s.StockpilePID, tarballURL, len(f.Tarball),
		s.NginxPID(), s.NginxURL+f.TarballPath(), len(f.Tarball))...)
	return nil
}

// metaDoc is a metadata document a warm scenario measures: Stockpile's
// answer at URL for Accept, against nginx serving those very bytes.
type metaDoc struct {
	Pair   string // "abbreviated packument"
	URL    string // Stockpile's
	Accept string
}

// docTargets asks Stockpile for each document without and with gzip (which
// it must then use: clients ask for it), has nginx send each answer as is
// (the gzip one as gzip_static's .gz twin) and returns their sizes and the
// targets "<pair>" and "<pair> gzip", Stockpile's then nginx's.
func docTargets(ctx context.Context, st *stack.Stack, docs []metaDoc, remote bool) ([]bench.Target, map[string]any, error) {
	c := load.Client(30*time.Second, false)
	defer c.CloseIdleConnections()
	dir := filepath.Join(st.Root, stack.BaselineDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	info := map[string]any{}
	var targets []bench.Target
	for _, d := range docs {
		name := strings.ReplaceAll(d.Pair, " ", "-")
		ngURL := st.NginxURL + "/" + stack.BaselineDir + "/" + name
		for _, enc := range []string{"", "gzip"} {
			pair, file, key := d.Pair, name, name+"_bytes"
			spH, ngH := st.Header(d.Accept), http.Header{}
			if enc != "" {
				pair, file, key = pair+" gzip", name+".gz", name+"_gzip_bytes"
				spH.Set("Accept-Encoding", enc)
				ngH.Set("Accept-Encoding", enc)
			}
			body, got, err := load.Fetch(ctx, c, d.URL, spH)
			if err == nil && got != enc {
				err = fmt.Errorf("stockpile answered Content-Encoding %q, want %q", got, enc)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, file), body, 0o644)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", pair, err)
			}
			if b, got, err := load.Fetch(ctx, c, ngURL, ngH); err != nil || got != enc || !bytes.Equal(b, body) {
				return nil, nil, fmt.Errorf("%s: nginx's copy: %d bytes, Content-Encoding %q, err %v (is gzip_static built in?)", pair, len(b), got, err)
			}
			info[key] = len(body)
			want := load.Expect{Status: http.StatusOK, Bytes: int64(len(body))}
			targets = append(targets,
				bench.Target{Name: "stockpile " + pair, Pair: pair, Side: bench.SideStockpile, PID: st.StockpilePID,
					Requests: []load.Request{{URL: d.URL, Header: spH, AllowRemote: remote, Want: want}}},
				bench.Target{Name: "nginx " + pair, Pair: pair, Side: bench.SideBaseline, PID: st.NginxPID(),
					Requests: []load.Request{{URL: ngURL, Header: ngH, Want: want}}})
		}
	}
	return targets, info, nil
}
