package scenario

import (
	"bytes"
	"context"
	"fmt"
	"maps"
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
	base
	spec fixture.FormatSpec
}

func newFormatWarm(env bench.Env, spec fixture.FormatSpec) *formatWarm {
	s := &formatWarm{base: newBase(env, spec.Scenario), spec: spec}
	s.info["connection"], s.info["metadata_ttl"] = spec.Connection, warmTTL.String()
	return s
}

// Setup implements Scenario: the fixture, nginx, Stockpile with the
// format's connection on nginx, one GET of each document through Stockpile
// (checked), and the same files from nginx (checked).
func (s *formatWarm) Setup(ctx context.Context) error {
	spec := s.spec
	var f *formattest.Registry
	types := map[string]string{} // the fixture's, filled before nginx's configuration is written
	err := s.up(ctx, stack.Options{
		Format: spec.Format, Connection: spec.Connection, ConnPath: spec.ConnPath,
		Nginx: stack.NginxConfig{Types: types, Locations: spec.Locations},
		Populate: func(root, base string) error {
			f = spec.Generate(base)
			maps.Copy(types, f.Types)
			return fixture.WriteFiles(root, f.Files)
		},
		TTL:      warmTTL,
		Deployed: true,
	})
	if err != nil {
		return err
	}
	maps.Copy(s.info, f.Info)
	s.info["nginx_metadata"], s.info["nginx_artifact"] = f.Metadata.Path, f.Artifact.Path
	c := load.Client(s.env.Timeout, false)
	defer c.CloseIdleConnections()

	// Through Stockpile as a client asks, the metadata first, then the
	// artifact it leads to; then the same files from nginx, byte for byte.
	var got [2][]byte
	for i, d := range []formattest.Doc{f.Metadata, f.Artifact} {
		t0 := time.Now()
		if got[i], err = s.fetch(ctx, c, d.Pair, s.RepoURL+d.ProxyPath, d.Accept, 1, nil); err != nil {
			return err
		}
		if i == 1 {
			s.info["cold_artifact_ms"] = float64(time.Since(t0).Microseconds()) / 1000
		}
		if !bytes.Contains(got[i], []byte(d.Contains)) || d.Contains == "" && !bytes.Equal(got[i], d.Body) {
			return fmt.Errorf("%s: stockpile's %s (%d bytes) is not the fixture's (%d bytes, holding %q)", spec.Scenario, d.Pair, len(got[i]), len(d.Body), d.Contains)
		}
		if ng, _, err := load.Fetch(ctx, c, s.NginxURL+d.Path, acceptHeader(d.Accept)); err != nil || !bytes.Equal(ng, d.Body) {
			return fmt.Errorf("%s: nginx's %s is not the fixture (err %v)", spec.Scenario, d.Pair, err)
		}
	}
	s.info["stockpile_metadata_bytes"] = len(got[0])
	s.env.Log.Info(spec.Scenario+": warmed", "metadata_bytes", len(got[0]), "nginx_metadata_bytes", len(f.Metadata.Body), "artifact_bytes", len(got[1]))

	// The metadata document without and with gzip, against nginx serving
	// Stockpile's very bytes, then the artifact.
	if err := s.docTargets(ctx, []metaDoc{{Pair: f.Metadata.Pair, URL: s.RepoURL + f.Metadata.ProxyPath, Accept: f.Metadata.Accept}}); err != nil {
		return err
	}
	a := f.Artifact
	s.targets = append(s.targets, s.pair(a.Pair, load.Request{URL: s.RepoURL + a.ProxyPath, Header: s.Header(a.Accept)},
		load.Request{URL: s.NginxURL + a.Path, Header: acceptHeader(a.Accept)}, len(got[1]), len(a.Body))...)
	return nil
}
