package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"
)

// warmTTL is the metadata TTL the warm-* scenarios give Stockpile's
// connection: longer than any bounded run (10 rounds of 4 runs of at most
// 150 s), so that every measured request is a hit, never a revalidation.
const warmTTL = 2 * time.Hour

// formatWarm is npm-warm for another format: a metadata document and an
// artifact that Stockpile has fetched once, measured against nginx serving
// the same files, round after round (Stockpile's metadata, nginx's, then
// Stockpile's artifact, nginx's).
type formatWarm struct {
	env     Env
	spec    formatFixtureSpec
	stack   benchStack
	fixture *FormatFixture
	warmed  map[string]any
	targets []Target
}

func newFormatWarm(env Env, spec formatFixtureSpec) *formatWarm {
	return &formatWarm{env: env, spec: spec, stack: benchStack{env: env}}
}

// Name implements Scenario.
func (s *formatWarm) Name() string { return s.spec.scenario }

// Setup implements Scenario: the fixture, nginx, Stockpile with the
// format's connection on nginx, one GET of each document through Stockpile
// (checked), and the same files from nginx (checked).
func (s *formatWarm) Setup(ctx context.Context) error {
	spec := s.spec
	err := s.stack.up(ctx, stackOptions{
		scenario: spec.scenario, format: spec.format,
		types: spec.types, locations: spec.locations,
		populate: func(root, base string) error {
			f, err := spec.generate(base)
			if err != nil {
				return err
			}
			s.fixture = f
			return writeFiles(root, f.Files)
		},
		stores: func(base string) []StoreConfig {
			return []StoreConfig{{Repository: spec.format + "-store", Connection: spec.connection, URL: base + spec.connPath}}
		},
		ttl: warmTTL,
	})
	if err != nil {
		return err
	}
	f := s.fixture
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}, Timeout: s.env.Timeout}
	defer c.CloseIdleConnections()

	// Through Stockpile, as a client asks: metadata first, then the
	// artifact it leads to.
	spMeta := s.stack.repoURL + f.Metadata.StockpilePath
	meta, err := fetch(ctx, c, spMeta, s.env.stockpileHeader(f.Metadata.Accept))
	if err != nil {
		return fmt.Errorf("%s: warm the %s: %w", spec.scenario, f.Metadata.Pair, err)
	}
	if !bytes.Contains(meta, []byte(f.Metadata.Contains)) {
		return fmt.Errorf("%s: stockpile's %s (%d bytes) lacks %q", spec.scenario, f.Metadata.Pair, len(meta), f.Metadata.Contains)
	}
	spArt := s.stack.repoURL + f.Artifact.StockpilePath
	t0 := time.Now()
	art, err := fetch(ctx, c, spArt, s.env.stockpileHeader(f.Artifact.Accept))
	if err != nil {
		return fmt.Errorf("%s: warm the %s: %w", spec.scenario, f.Artifact.Pair, err)
	}
	coldArtifact := time.Since(t0)
	if !bytes.Equal(art, f.Artifact.Body) {
		return fmt.Errorf("%s: stockpile's %s differs from the fixture (%d bytes, want %d)", spec.scenario, f.Artifact.Pair, len(art), len(f.Artifact.Body))
	}

	// From nginx: the same files, byte for byte.
	ngMeta, ngArt := s.stack.nginxURL+f.Metadata.NginxPath, s.stack.nginxURL+f.Artifact.NginxPath
	for _, d := range []struct {
		url string
		doc FixtureDoc
	}{{ngMeta, f.Metadata}, {ngArt, f.Artifact}} {
		got, err := fetch(ctx, c, d.url, acceptHeader(d.doc.Accept))
		if err != nil || !bytes.Equal(got, d.doc.Body) {
			return fmt.Errorf("%s: nginx's %s is not the fixture (err %v)", spec.scenario, d.doc.Pair, err)
		}
	}
	s.warmed = map[string]any{"stockpile_metadata_bytes": len(meta), "cold_artifact_ms": float64(coldArtifact.Microseconds()) / 1000}
	s.env.Log.Info(spec.scenario+": warmed", "metadata_bytes", len(meta), "nginx_metadata_bytes", len(f.Metadata.Body), "artifact_bytes", len(art))

	sp, ng := s.stack.stockpilePID, s.stack.nginx.PID()
	mp, ap := f.Metadata.Pair, f.Artifact.Pair
	s.targets = []Target{
		{Name: "stockpile " + mp, Pair: mp, Side: sideStockpile, PID: sp,
			Request: Request{URL: spMeta, Header: s.env.stockpileHeader(f.Metadata.Accept)},
			Expect:  Expect{Status: http.StatusOK, Bytes: int64(len(meta))}},
		{Name: "nginx " + mp, Pair: mp, Side: sideBaseline, PID: ng,
			Request: Request{URL: ngMeta, Header: acceptHeader(f.Metadata.Accept)},
			Expect:  Expect{Status: http.StatusOK, Bytes: int64(len(f.Metadata.Body))}},
		{Name: "stockpile " + ap, Pair: ap, Side: sideStockpile, PID: sp,
			Request: Request{URL: spArt, Header: s.env.stockpileHeader(f.Artifact.Accept)},
			Expect:  Expect{Status: http.StatusOK, Bytes: int64(len(art))}},
		{Name: "nginx " + ap, Pair: ap, Side: sideBaseline, PID: ng,
			Request: Request{URL: ngArt, Header: acceptHeader(f.Artifact.Accept)},
			Expect:  Expect{Status: http.StatusOK, Bytes: int64(len(f.Artifact.Body))}},
	}
	return nil
}

// acceptHeader returns an Accept header, or nil for none.
func acceptHeader(accept string) http.Header {
	if accept == "" {
		return nil
	}
	return http.Header{"Accept": {accept}}
}

// Targets implements Scenario.
func (s *formatWarm) Targets() []Target { return s.targets }

// Teardown implements Scenario.
func (s *formatWarm) Teardown() error { return s.stack.down() }

// Info implements Describer.
func (s *formatWarm) Info() map[string]any {
	m := s.stack.info()
	m["connection"] = s.spec.connection
	if s.fixture != nil {
		for k, v := range s.fixture.Info {
			m[k] = v
		}
		m["nginx_metadata"] = s.fixture.Metadata.NginxPath
		m["nginx_artifact"] = s.fixture.Artifact.NginxPath
	}
	for k, v := range s.warmed {
		m[k] = v
	}
	m["metadata_ttl"] = warmTTL.String()
	return m
}
