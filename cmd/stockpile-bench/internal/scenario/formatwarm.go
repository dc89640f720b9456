package scenario

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/fixture"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
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
	env     bench.Env
	spec    fixture.FormatSpec
	stack   *stack.Stack
	fixture *formattest.Registry
	warmed  map[string]any
	targets []bench.Target
}

func newFormatWarm(env bench.Env, spec fixture.FormatSpec) *formatWarm {
	return &formatWarm{env: env, spec: spec, stack: stack.New(env.Env)}
}

// Name implements Scenario.
func (s *formatWarm) Name() string { return s.spec.Scenario }

// Setup implements Scenario: the fixture, nginx, Stockpile with the
// format's connection on nginx, one GET of each document through Stockpile
// (checked), and the same files from nginx (checked).
func (s *formatWarm) Setup(ctx context.Context) error {
	spec := s.spec
	types := map[string]string{} // the fixture's, filled before nginx's configuration is written
	err := s.stack.Up(ctx, stack.Options{
		Scenario: spec.Scenario, Format: spec.Format,
		Types: types, Locations: spec.Locations,
		Populate: func(root, base string) error {
			s.fixture = spec.Generate(base)
			maps.Copy(types, s.fixture.Types)
			return fixture.WriteFiles(root, s.fixture.Files)
		},
		Stores: func(base string) []stack.StoreConfig {
			return []stack.StoreConfig{{Repository: spec.Format + "-store", Connection: spec.Connection, URL: base + spec.ConnPath}}
		},
		TTL:      warmTTL,
		Deployed: true,
	})
	if err != nil {
		return err
	}
	f := s.fixture
	c := load.Client(s.env.Timeout, false)
	defer c.CloseIdleConnections()

	// Through Stockpile, as a client asks: metadata first, then the
	// artifact it leads to.
	spMeta := s.stack.RepoURL + f.Metadata.ProxyPath
	meta, err := load.Fetch(ctx, c, spMeta, s.stack.Header(f.Metadata.Accept))
	if err != nil {
		return fmt.Errorf("%s: warm the %s: %w", spec.Scenario, f.Metadata.Pair, err)
	}
	if !bytes.Contains(meta, []byte(f.Metadata.Contains)) {
		return fmt.Errorf("%s: stockpile's %s (%d bytes) lacks %q", spec.Scenario, f.Metadata.Pair, len(meta), f.Metadata.Contains)
	}
	spArt := s.stack.RepoURL + f.Artifact.ProxyPath
	t0 := time.Now()
	art, err := load.Fetch(ctx, c, spArt, s.stack.Header(f.Artifact.Accept))
	if err != nil {
		return fmt.Errorf("%s: warm the %s: %w", spec.Scenario, f.Artifact.Pair, err)
	}
	coldArtifact := time.Since(t0)
	if !bytes.Equal(art, f.Artifact.Body) {
		return fmt.Errorf("%s: stockpile's %s differs from the fixture (%d bytes, want %d)", spec.Scenario, f.Artifact.Pair, len(art), len(f.Artifact.Body))
	}

	// From nginx: the same files, byte for byte.
	ngMeta, ngArt := s.stack.NginxURL+f.Metadata.Path, s.stack.NginxURL+f.Artifact.Path
	for _, d := range []struct {
		url string
		doc formattest.Doc
	}{{ngMeta, f.Metadata}, {ngArt, f.Artifact}} {
		got, err := load.Fetch(ctx, c, d.url, acceptHeader(d.doc.Accept))
		if err != nil || !bytes.Equal(got, d.doc.Body) {
			return fmt.Errorf("%s: nginx's %s is not the fixture (err %v)", spec.Scenario, d.doc.Pair, err)
		}
	}
	s.warmed = map[string]any{"stockpile_metadata_bytes": len(meta), "cold_artifact_ms": float64(coldArtifact.Microseconds()) / 1000}
	s.env.Log.Info(spec.Scenario+": warmed", "metadata_bytes", len(meta), "nginx_metadata_bytes", len(f.Metadata.Body), "artifact_bytes", len(art))

	// The metadata document without and with gzip, against nginx serving
	// Stockpile's very bytes (asked a second time first: the engine keeps
	// a document from its second rendering on), then the artifact.
	if _, err := load.Fetch(ctx, c, spMeta, s.stack.Header(f.Metadata.Accept)); err != nil {
		return fmt.Errorf("%s: warm the %s: %w", spec.Scenario, f.Metadata.Pair, err)
	}
	targets, info, err := docTargets(ctx, s.stack, []metaDoc{{Pair: f.Metadata.Pair, URL: spMeta, Accept: f.Metadata.Accept}}, false)
	if err != nil {
		return fmt.Errorf("%s: %w", spec.Scenario, err)
	}
	maps.Copy(s.warmed, info)
	sp, ng := s.stack.StockpilePID, s.stack.NginxPID()
	s.targets = append(targets,
		pairTargets(s.stack, false, f.Artifact.Pair, f.Artifact.Accept, sp, spArt, len(art), ng, ngArt, len(f.Artifact.Body))...)
	return nil
}

// acceptHeader returns an Accept header, or nil for none.
func acceptHeader(accept string) http.Header {
	if accept == "" {
		return nil
	}
	return http.Header{"Accept": {accept}}
}

// pairTargets returns the two sides of a comparison: Stockpile's answer
// (with the stack's token, and to a --target's host when remote) and
// nginx's, each asked with accept and wanted 200 with the size it had when
// warmed.
func pairTargets(st *stack.Stack, remote bool, pair, accept string, spPID int, spURL string, spBytes, ngPID int, ngURL string, ngBytes int) []bench.Target {
	return []bench.Target{
		{Name: "stockpile " + pair, Pair: pair, Side: bench.SideStockpile, PID: spPID,
			Request: load.Request{URL: spURL, Header: st.Header(accept), AllowRemote: remote},
			Expect:  load.Expect{Status: http.StatusOK, Bytes: int64(spBytes)}},
		{Name: "nginx " + pair, Pair: pair, Side: bench.SideBaseline, PID: ngPID,
			Request: load.Request{URL: ngURL, Header: acceptHeader(accept)},
			Expect:  load.Expect{Status: http.StatusOK, Bytes: int64(ngBytes)}},
	}
}

// Targets implements Scenario.
func (s *formatWarm) Targets() []bench.Target { return s.targets }

// Teardown implements Scenario.
func (s *formatWarm) Teardown() error { return s.stack.Down() }

// Info implements Describer.
func (s *formatWarm) Info() map[string]any {
	m := s.stack.Info()
	m["connection"] = s.spec.Connection
	if s.fixture != nil {
		maps.Copy(m, s.fixture.Info)
		m["nginx_metadata"] = s.fixture.Metadata.Path
		m["nginx_artifact"] = s.fixture.Artifact.Path
	}
	maps.Copy(m, s.warmed)
	m["metadata_ttl"] = warmTTL.String()
	return m
}
