package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/fixture"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
)

// ErrNotServed is returned when Stockpile answers 404 for the npm fixture:
// its binary does not serve npm (yet), or the target is not an npm
// repository whose upstream is the bench's nginx.
var ErrNotServed = errors.New("stockpile does not serve the npm fixture")

// npmWarm measures the cached path: a packument and a tarball Stockpile has
// already fetched once, against nginx serving the same files from disk.
type npmWarm struct {
	env     bench.Env
	stack   npmStack
	targets []bench.Target
	docInfo map[string]any
}

func newNPMWarm(env bench.Env) *npmWarm {
	st := newNPMStack(env)
	st.deployed = true
	return &npmWarm{env: env, stack: st}
}

// Name implements Scenario.
func (s *npmWarm) Name() string { return "npm-warm" }

// Setup implements Scenario: fixtures, nginx, Stockpile, then one GET of
// each document through Stockpile so that the measured runs are all hits.
func (s *npmWarm) Setup(ctx context.Context) error {
	if err := s.stack.up(ctx, s.Name(), "stockpile-bench-warm", false); err != nil {
		return err
	}
	f := s.stack.fixture
	c := load.Client(s.env.Timeout, false)
	defer c.CloseIdleConnections()

	// Through Stockpile, as npm asks: the full packument, then the tarball
	// its dist.tarball names.
	spDoc := s.stack.RepoURL + f.PackumentPath()
	doc, err := load.Fetch(ctx, c, spDoc, s.stack.Header("application/json"))
	if err != nil {
		return fmt.Errorf("npm-warm: warm the packument: %w", notServed(err))
	}
	tarballURL, err := fixture.CheckPackument(doc, f)
	if err != nil {
		return fmt.Errorf("npm-warm: packument from stockpile: %w", err)
	}
	if !strings.HasPrefix(tarballURL, s.stack.RepoURL+"/") {
		return fmt.Errorf("npm-warm: stockpile's packument points the tarball at %s, not below %s", tarballURL, s.stack.RepoURL)
	}
	tgz, err := load.Fetch(ctx, c, tarballURL, s.stack.Header(""))
	if err != nil {
		return fmt.Errorf("npm-warm: warm the tarball: %w", notServed(err))
	}
	if !bytes.Equal(tgz, f.Tarball) {
		return fmt.Errorf("npm-warm: stockpile's tarball differs from the fixture (%d bytes, want %d)", len(tgz), len(f.Tarball))
	}

	// From nginx: the same files, byte for byte.
	ngDoc := s.stack.NginxURL + f.PackumentPath()
	ngTgz := s.stack.NginxURL + f.TarballPath()
	if got, err := load.Fetch(ctx, c, ngDoc, acceptHeader("application/json")); err != nil || !bytes.Equal(got, f.Packument) {
		return fmt.Errorf("npm-warm: nginx's packument is not the fixture (err %v)", err)
	}
	if got, err := load.Fetch(ctx, c, ngTgz, nil); err != nil || !bytes.Equal(got, f.Tarball) {
		return fmt.Errorf("npm-warm: nginx's tarball is not the fixture (err %v)", err)
	}
	s.env.Log.Info("npm-warm: warmed", "packument_bytes", len(doc), "nginx_packument_bytes", len(f.Packument), "tarball_bytes", len(tgz))

	// The packument as npm install asks for it (abbreviated) and in full,
	// each without and with gzip, against nginx serving Stockpile's very
	// bytes; each is asked for a second time first (the engine keeps a
	// document from its second rendering on).
	docs := []metaDoc{
		{Pair: "abbreviated packument", URL: spDoc, Accept: npmInstallAccept},
		{Pair: "packument", URL: spDoc, Accept: "application/json"},
	}
	for _, d := range docs {
		for range 2 {
			if _, err := load.Fetch(ctx, c, d.URL, s.stack.Header(d.Accept)); err != nil {
				return fmt.Errorf("npm-warm: warm the %s: %w", d.Pair, err)
			}
		}
	}
	remote := s.env.Target != ""
	targets, info, err := docTargets(ctx, s.stack.Stack, docs, remote)
	if err != nil {
		return fmt.Errorf("npm-warm: %w", err)
	}
	s.docInfo = info
	sp, ng := s.stack.StockpilePID, s.stack.NginxPID()
	s.targets = append(targets,
		pairTargets(s.stack.Stack, remote, "tarball", "", sp, tarballURL, len(f.Tarball), ng, ngTgz, len(f.Tarball))...)
	return nil
}

// Targets implements Scenario: Stockpile's and nginx's packument, then
// Stockpile's and nginx's tarball.
func (s *npmWarm) Targets() []bench.Target { return s.targets }

// Teardown implements Scenario.
func (s *npmWarm) Teardown() error { return s.stack.Down() }

// Info implements Describer.
func (s *npmWarm) Info() map[string]any {
	m := s.stack.info()
	for k, v := range s.docInfo {
		m[k] = v
	}
	return m
}

// notServed wraps a 404 from Stockpile with ErrNotServed.
func notServed(err error) error {
	var se *load.StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNotServed, err)
	}
	return err
}
