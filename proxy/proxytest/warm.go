package proxytest

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// WarmOptions describe a package of one format read through Stockpile as
// cmd/stockpile-bench's warm-* scenarios read it: a formattest registry
// layout served by a fake upstream behind a store repository's external
// connection, reached through an app repository.
type WarmOptions struct {
	Format     formats.Format
	URLFormat  string // the format in Stockpile's URLs: "pypi"
	Connection string // "public:pypi"
	ConnPath   string // the connection URL's path on the fake: "/simple/"
	// Registry builds the layout for a registry at base.
	Registry func(base string) *formattest.Registry
}

// Warm is a running WarmOptions: Stockpile, the fake upstream and the
// layout it serves.
type Warm struct {
	In       *Instance
	Fake     *upstreamtest.Server
	Registry *formattest.Registry
	Repo     string // the app repository's endpoint
}

// StartWarm starts a Warm and reads the metadata document and the artifact
// through Stockpile three times: the first reads fetch each from the fake,
// the artifact exactly once; the later reads are served from the cache and
// fetch nothing.
func StartWarm(t testing.TB, o WarmOptions) *Warm {
	t.Helper()
	fake := upstreamtest.New(t)
	reg := o.Registry(fake.URL)
	reg.ServeOn(fake)
	cfg := proxy.Defaults()
	cfg.Connections = map[string]upstream.Options{o.Connection: {URL: fake.URL + o.ConnPath}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"store"}},
		{Name: "store", ExternalConnection: o.Connection},
	}}}
	in := Start(t, Options{Config: &cfg, Formats: []formats.Format{o.Format}})
	w := &Warm{In: in, Fake: fake, Registry: reg, Repo: in.URL + "/acme/" + o.URLFormat + "/app"}
	for round := range 3 {
		before := fake.TotalHits()
		w.Read(t, reg.Metadata)
		w.Read(t, reg.Artifact)
		switch {
		case round == 0 && (fake.Hits(reg.Metadata.Path) == 0 || fake.Hits(reg.Artifact.Path) != 1):
			t.Fatalf("cold reads fetched the %s %d times and the %s %d times, want at least once and once",
				reg.Metadata.Pair, fake.Hits(reg.Metadata.Path), reg.Artifact.Pair, fake.Hits(reg.Artifact.Path))
		case round > 0 && fake.TotalHits() != before:
			t.Fatalf("warm read %d fetched %d times from the upstream, want none", round, fake.TotalHits()-before)
		}
	}
	return w
}

// Read GETs d through Stockpile and checks the answer: a metadata document
// (rendered anew) holds d.Contains, an artifact is d.Body exactly.
func (w *Warm) Read(t testing.TB, d formattest.Doc) []byte {
	t.Helper()
	var h http.Header
	if d.Accept != "" {
		h = http.Header{"Accept": {d.Accept}}
	}
	b := GetOK(t, w.Repo+d.ProxyPath, h)
	if d.Contains != "" && !bytes.Contains(b, []byte(d.Contains)) || d.Contains == "" && !bytes.Equal(b, d.Body) {
		t.Fatalf("%s: %d bytes, not the upstream's (%d bytes, holding %q)", d.Pair, len(b), len(d.Body), d.Contains)
	}
	return b
}

// BenchWarm measures warm reads of the metadata document and of the
// artifact through Stockpile, each answer checked.
func BenchWarm(b *testing.B, o WarmOptions) {
	w := StartWarm(b, o)
	for _, d := range []formattest.Doc{w.Registry.Metadata, w.Registry.Artifact} {
		b.Run(strings.ReplaceAll(d.Pair, " ", "-"), func(b *testing.B) {
			b.SetBytes(int64(len(w.Read(b, d))))
			for b.Loop() {
				w.Read(b, d)
			}
		})
	}
}
