// Package scenario holds the scenarios that stand on a stack of nginx and
// Stockpile: npm-warm, npm-cold-burst, cold-burst-1000, cold-10mb,
// big-concurrent, soak, cluster and warm-{pypi,maven,cargo,nuget,ruby}.
package scenario

import (
	"bytes"
	"cmp"
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

// ErrNotServed is returned when Stockpile answers 404 for a fixture: its
// binary does not serve the format (yet), or the target is not a
// repository whose upstream is the bench's nginx.
var ErrNotServed = errors.New("stockpile does not serve the fixture")

// base is what every scenario here shares: its name, a stack of nginx and
// Stockpile (or --target's), its targets, what its report says beside the
// stack's, and what to stop besides the stack. npm-warm, the cold bursts
// and cluster serve one generated npm package from nginx (fixture).
type base struct {
	*stack.Stack
	env     bench.Env
	name    string
	remote  bool // --target: Stockpile's URLs may leave loopback
	fixture *formattest.NPMPackage
	targets []bench.Target
	info    map[string]any
	undo    []func() error // run by Teardown, last first
}

func newBase(env bench.Env, name string) base {
	return base{Stack: stack.New(env.Env), env: env, name: name, remote: env.Target != "", info: map[string]any{}}
}

// up starts the stack as o says, for npm unless o names a format.
func (s *base) up(ctx context.Context, o stack.Options) error {
	o.Scenario, o.Format = s.name, cmp.Or(o.Format, "npm")
	return s.Up(ctx, o)
}

// upNPM generates the fixture called pkg for nginx's address, then starts
// the stack as o says.
func (s *base) upNPM(ctx context.Context, pkg string, o stack.Options) error {
	o.Populate = func(root, base string) error {
		f, err := formattest.GenerateNPM(formattest.NPMOptions{Name: pkg, Upstream: base + "/"})
		if err != nil {
			return err
		}
		s.fixture = f
		return fixture.WriteNPM(root, f)
	}
	return s.up(ctx, o)
}

// fetch GETs url from Stockpile with Accept accept, n times (the engine
// keeps a document from its second rendering on), and returns the last
// answer, which must be want when want is set. A 404 is ErrNotServed.
func (s *base) fetch(ctx context.Context, c *http.Client, what, url, accept string, n int, want []byte) (b []byte, err error) {
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
func (s *base) Name() string { return s.name }

// Targets implements Scenario.
func (s *base) Targets() []bench.Target { return s.targets }

// Teardown implements Scenario: undo, then the stack.
func (s *base) Teardown() error {
	var errs []error
	for i := len(s.undo) - 1; i >= 0; i-- {
		errs = append(errs, s.undo[i]())
	}
	s.undo = nil
	return errors.Join(append(errs, s.Down())...)
}

// Info implements Scenario: the stack, the fixture, and the scenario's own.
func (s *base) Info() map[string]any {
	m := s.Stack.Info()
	if f := s.fixture; f != nil {
		m["package"], m["version"], m["versions"] = f.Name, f.Version, f.Versions
		m["packument_bytes"], m["tarball_bytes"] = len(f.Packument), len(f.Tarball)
	}
	maps.Copy(m, s.info)
	return m
}

// npmPkg is a package published below nginx's root: its name, and its
// tarball's path, size and load.NewMaphash sum (not its bytes: soak
// publishes hundreds).
type npmPkg struct {
	name, tarballPath string
	tarballSize       int64
	tarballSum        uint64
}

// publishNPM generates a package and writes it below nginx's root.
func publishNPM(root string, o formattest.NPMOptions) (*npmPkg, error) {
	f, err := formattest.GenerateNPM(o)
	if err != nil {
		return nil, err
	}
	p := &npmPkg{name: f.Name, tarballPath: f.TarballPath(), tarballSize: int64(len(f.Tarball)), tarballSum: maphashOf(f.Tarball)}
	return p, fixture.WriteNPM(root, f)
}

func (p *npmPkg) packumentPath() string { return "/" + p.name }

// tarballExpect is what a download of p's tarball must get: its bytes.
func (p *npmPkg) tarballExpect() load.Expect {
	return load.Expect{Status: http.StatusOK, Bytes: p.tarballSize, Maphash: p.tarballSum}
}

// maphashOf is b's load.NewMaphash sum.
func maphashOf(b []byte) uint64 {
	h := load.NewMaphash()
	h.Write(b)
	return h.Sum64()
}

// nonce returns what no other run's names have: the time and random
// bytes, for packages Stockpile must never have seen.
func nonce() string { return fmt.Sprintf("%d-%s", time.Now().Unix(), strings.ToLower(rand.Text()[:8])) }

// Constructors returns the scenarios of this package by name: npm's warm,
// cold and memory scenarios, and the warm scenario of each other format.
func Constructors() map[string]func(bench.Env) bench.Scenario {
	m := map[string]func(bench.Env) bench.Scenario{
		"npm-warm":        func(e bench.Env) bench.Scenario { return &npmWarm{newBase(e, "npm-warm")} },
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
type npmWarm struct{ base }

// Setup implements Scenario: the stack, then GETs through Stockpile so that
// the measured runs are all hits. The targets: the packument, abbreviated
// and full, each without and with gzip, then the tarball.
func (s *npmWarm) Setup(ctx context.Context) error {
	if err := s.upNPM(ctx, "stockpile-bench-warm", stack.Options{Deployed: true}); err != nil {
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
	// against nginx serving Stockpile's bytes.
	if err := s.docTargets(ctx, []metaDoc{{"abbreviated packument", spDoc, npmInstallAccept}, {"packument", spDoc, "application/json"}}); err != nil {
		return err
	}
	s.targets = append(s.targets, s.pair("tarball", load.Request{URL: tarballURL, Header: s.Header("")},
		load.Request{URL: s.NginxURL + f.TarballPath()}, len(f.Tarball), len(f.Tarball))...)
	return nil
}

// metaDoc is a metadata document a warm scenario measures: Stockpile's
// answer at URL for Accept, against nginx serving those very bytes.
type metaDoc struct {
	Pair   string // "abbreviated packument"
	URL    string // Stockpile's
	Accept string
}

// docTargets asks Stockpile for each document twice (the engine keeps a
// document from its second rendering on), then without and with gzip
// (which it must then use: clients ask for it), has nginx send each answer as is
// (the gzip one as gzip_static's .gz twin), notes their sizes and adds the
// targets "<pair>" and "<pair> gzip", Stockpile's then nginx's.
func (s *base) docTargets(ctx context.Context, docs []metaDoc) error {
	c := load.Client(30*time.Second, false)
	defer c.CloseIdleConnections()
	dir := filepath.Join(s.Root, stack.BaselineDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range docs {
		if _, err := s.fetch(ctx, c, d.Pair, d.URL, d.Accept, 2, nil); err != nil {
			return err
		}
		name := strings.ReplaceAll(d.Pair, " ", "-")
		ngURL := s.NginxURL + "/" + stack.BaselineDir + "/" + name
		for _, enc := range []string{"", "gzip"} {
			pair, file, key := d.Pair, name, name+"_bytes"
			spH, ngH := s.Header(d.Accept), http.Header{}
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
				return fmt.Errorf("%s: %s: %w", s.name, pair, err)
			}
			if b, got, err := load.Fetch(ctx, c, ngURL, ngH); err != nil || got != enc || !bytes.Equal(b, body) {
				return fmt.Errorf("%s: %s: nginx's copy: %d bytes, Content-Encoding %q, err %v (is gzip_static built in?)", s.name, pair, len(b), got, err)
			}
			s.info[key] = len(body)
			s.targets = append(s.targets, s.pair(pair, load.Request{URL: d.URL, Header: spH}, load.Request{URL: ngURL, Header: ngH}, len(body), len(body))...)
		}
	}
	return nil
}

// pair returns the two sides of a comparison, Stockpile's (to a --target's
// host too) then nginx's, each wanted 200 with the size it had when warmed.
func (s *base) pair(pair string, sp, ng load.Request, spBytes, ngBytes int) []bench.Target {
	sp.AllowRemote = s.remote
	sp.Want, ng.Want = load.Expect{Status: http.StatusOK, Bytes: int64(spBytes)}, load.Expect{Status: http.StatusOK, Bytes: int64(ngBytes)}
	return []bench.Target{
		{Name: "stockpile " + pair, Pair: pair, Side: bench.SideStockpile, PID: s.StockpilePID, Requests: []load.Request{sp}},
		{Name: "nginx " + pair, Pair: pair, Side: bench.SideBaseline, PID: s.NginxPID(), Requests: []load.Request{ng}},
	}
}

// acceptHeader returns an Accept header, or nil for none.
func acceptHeader(accept string) http.Header {
	if accept == "" {
		return nil
	}
	return http.Header{"Accept": {accept}}
}
