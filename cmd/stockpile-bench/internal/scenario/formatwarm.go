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
		Scenario: spec.Scenario, Format: spec.Format, Connection: spec.Connection, ConnPath: spec.ConnPath,
		Nginx: stack.NginxConfig{Types: types, Locations: spec.Locations},
		Populate: func(root, base string) error {
			s.fixture = spec.Generate(base)
			maps.Copy(types, s.fixture.Types)
			return fixture.WriteFiles(root, s.fixture.Files)
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

	// Through Stockpile as a client asks, the metadata first (twice: the
	// engine keeps a document from its second rendering on), then the
	// artifact it leads to; then the same files from nginx, byte for byte.
	s.warmed = map[string]any{}
	var got [2][]byte
	for i, d := range []formattest.Doc{f.Metadata, f.Artifact} {
		t0 := time.Now()
		for range 2 - i {
			if got[i], _, err = load.Fetch(ctx, c, s.stack.RepoURL+d.ProxyPath, s.stack.Header(d.Accept)); err != nil {
				return fmt.Errorf("%s: warm the %s: %w", spec.Scenario, d.Pair, err)
			}
		}
		if i == 1 {
			s.warmed["cold_artifact_ms"] = float64(time.Since(t0).Microseconds()) / 1000
		}
		if !bytes.Contains(got[i], []byte(d.Contains)) || d.Contains == "" && !bytes.Equal(got[i], d.Body) {
			return fmt.Errorf("%s: stockpile's %s (%d bytes) is not the fixture's (%d bytes, holding %q)", spec.Scenario, d.Pair, len(got[i]), len(d.Body), d.Contains)
		}
		if ng, _, err := load.Fetch(ctx, c, s.stack.NginxURL+d.Path, acceptHeader(d.Accept)); err != nil || !bytes.Equal(ng, d.Body) {
			return fmt.Errorf("%s: nginx's %s is not the fixture (err %v)", spec.Scenario, d.Pair, err)
		}
	}
	s.warmed["stockpile_metadata_bytes"] = len(got[0])
	s.env.Log.Info(spec.Scenario+": warmed", "metadata_bytes", len(got[0]), "nginx_metadata_bytes", len(f.Metadata.Body), "artifact_bytes", len(got[1]))

	// The metadata document without and with gzip, against nginx serving
	// Stockpile's very bytes, then the artifact.
	targets, info, err := docTargets(ctx, s.stack, []metaDoc{{Pair: f.Metadata.Pair, URL: s.stack.RepoURL + f.Metadata.ProxyPath, Accept: f.Metadata.Accept}}, false)
	if err != nil {
		return fmt.Errorf("%s: %w", spec.Scenario, err)
	}
	maps.Copy(s.warmed, info)
	s.targets = append(targets, pairTargets(s.stack, false, f.Artifact.Pair, f.Artifact.Accept, s.stack.StockpilePID,
		s.stack.RepoURL+f.Artifact.ProxyPath, len(got[1]), s.stack.NginxPID(), s.stack.NginxURL+f.Artifact.Path, len(f.Artifact.Body))...)
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
			Requests: []load.Request{{URL: spURL, Header: st.Header(accept), AllowRemote: remote,
				Want: load.Expect{Status: http.StatusOK, Bytes: int64(spBytes)}}}},
		{Name: "nginx " + pair, Pair: pair, Side: bench.SideBaseline, PID: ngPID,
			Requests: []load.Request{{URL: ngURL, Header: acceptHeader(accept),
				Want: load.Expect{Status: http.StatusOK, Bytes: int64(ngBytes)}}}},
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
