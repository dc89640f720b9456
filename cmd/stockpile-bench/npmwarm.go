package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// errNotServed is returned when Stockpile answers 404 for the npm fixture:
// its binary does not serve npm (yet), or the target is not an npm
// repository whose upstream is the bench's nginx.
var errNotServed = errors.New("stockpile does not serve the npm fixture")

// npmWarm measures the cached path: a packument and a tarball Stockpile has
// already fetched once, against nginx serving the same files from disk.
type npmWarm struct {
	env     Env
	stack   npmStack
	targets []Target
}

func newNPMWarm(env Env) *npmWarm {
	return &npmWarm{env: env, stack: npmStack{benchStack: benchStack{env: env}}}
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
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}, Timeout: s.env.Timeout}
	defer c.CloseIdleConnections()
	remote := s.env.Target != ""

	// Through Stockpile, as npm asks: the full packument, then the tarball
	// its dist.tarball names.
	spDoc := s.stack.repoURL + f.PackumentPath()
	doc, err := fetch(ctx, c, spDoc, s.env.stockpileHeader("application/json"))
	if err != nil {
		return fmt.Errorf("npm-warm: warm the packument: %w", notServed(err))
	}
	tarballURL, err := checkPackument(doc, f)
	if err != nil {
		return fmt.Errorf("npm-warm: packument from stockpile: %w", err)
	}
	if !strings.HasPrefix(tarballURL, s.stack.repoURL+"/") {
		return fmt.Errorf("npm-warm: stockpile's packument points the tarball at %s, not below %s", tarballURL, s.stack.repoURL)
	}
	tgz, err := fetch(ctx, c, tarballURL, s.env.stockpileHeader(""))
	if err != nil {
		return fmt.Errorf("npm-warm: warm the tarball: %w", notServed(err))
	}
	if !bytes.Equal(tgz, f.Tarball) {
		return fmt.Errorf("npm-warm: stockpile's tarball differs from the fixture (%d bytes, want %d)", len(tgz), len(f.Tarball))
	}

	// From nginx: the same files, byte for byte.
	ngDoc := s.stack.nginxURL + f.PackumentPath()
	ngTgz := s.stack.nginxURL + f.TarballPath()
	acceptJSON := http.Header{"Accept": {"application/json"}}
	if got, err := fetch(ctx, c, ngDoc, acceptJSON); err != nil || !bytes.Equal(got, f.Packument) {
		return fmt.Errorf("npm-warm: nginx's packument is not the fixture (err %v)", err)
	}
	if got, err := fetch(ctx, c, ngTgz, nil); err != nil || !bytes.Equal(got, f.Tarball) {
		return fmt.Errorf("npm-warm: nginx's tarball is not the fixture (err %v)", err)
	}
	s.env.Log.Info("npm-warm: warmed", "packument_bytes", len(doc), "nginx_packument_bytes", len(f.Packument), "tarball_bytes", len(tgz))

	sp, ng := s.stack.stockpilePID, s.stack.nginx.PID()
	s.targets = []Target{
		{Name: "stockpile packument", Pair: "packument", Side: sideStockpile, PID: sp,
			Request: Request{URL: spDoc, Header: s.env.stockpileHeader("application/json"), AllowRemote: remote},
			Expect:  Expect{Status: http.StatusOK, Bytes: int64(len(doc))}},
		{Name: "nginx packument", Pair: "packument", Side: sideBaseline, PID: ng,
			Request: Request{URL: ngDoc, Header: acceptJSON},
			Expect:  Expect{Status: http.StatusOK, Bytes: int64(len(f.Packument))}},
		{Name: "stockpile tarball", Pair: "tarball", Side: sideStockpile, PID: sp,
			Request: Request{URL: tarballURL, Header: s.env.stockpileHeader(""), AllowRemote: remote},
			Expect:  Expect{Status: http.StatusOK, Bytes: int64(len(f.Tarball))}},
		{Name: "nginx tarball", Pair: "tarball", Side: sideBaseline, PID: ng,
			Request: Request{URL: ngTgz},
			Expect:  Expect{Status: http.StatusOK, Bytes: int64(len(f.Tarball))}},
	}
	return nil
}

// Targets implements Scenario: Stockpile's and nginx's packument, then
// Stockpile's and nginx's tarball.
func (s *npmWarm) Targets() []Target { return s.targets }

// Teardown implements Scenario.
func (s *npmWarm) Teardown() error { return s.stack.down() }

// Info implements Describer.
func (s *npmWarm) Info() map[string]any { return s.stack.info() }

// checkPackument checks that a packument served for f lists f's newest
// version with f's digests, and returns that version's dist.tarball.
func checkPackument(doc []byte, f *NPMFixture) (string, error) {
	var p struct {
		Name     string `json:"name"`
		Versions map[string]struct {
			Dist struct {
				Tarball   string `json:"tarball"`
				Integrity string `json:"integrity"`
				Shasum    string `json:"shasum"`
			} `json:"dist"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	if p.Name != f.Name {
		return "", fmt.Errorf("name %q, want %q", p.Name, f.Name)
	}
	if len(p.Versions) != f.Versions {
		return "", fmt.Errorf("%d versions, want %d", len(p.Versions), f.Versions)
	}
	v, ok := p.Versions[f.Version]
	if !ok {
		return "", fmt.Errorf("version %s is missing", f.Version)
	}
	if v.Dist.Integrity != f.Integrity || v.Dist.Shasum != f.Shasum {
		return "", fmt.Errorf("version %s: dist.integrity %q and shasum %q, want %q and %q", f.Version, v.Dist.Integrity, v.Dist.Shasum, f.Integrity, f.Shasum)
	}
	return v.Dist.Tarball, nil
}

// maxFetch bounds what fetch reads.
const maxFetch = 256 << 20

// statusError is a GET answered with a status other than 200.
type statusError struct {
	URL     string
	Status  int
	Snippet string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("GET %s: %d %s: %s", e.URL, e.Status, http.StatusText(e.Status), e.Snippet)
}

// notServed wraps a 404 from Stockpile with errNotServed.
func notServed(err error) error {
	var se *statusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %w", errNotServed, err)
	}
	return err
}

// fetch GETs url and returns the body of a 200 answer, or a *statusError.
func fetch(ctx context.Context, c *http.Client, url string, h http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFetch))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{URL: url, Status: resp.StatusCode, Snippet: string(body[:min(len(body), 300)])}
	}
	return body, nil
}
