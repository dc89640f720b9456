package webui_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
	"github.com/stockpile-proxy/stockpile/storage"
)

// fill writes n package records, each with one version record, into
// acme/internal directly (as stockpile-bench's million-package store does),
// in batches.
func fill(b testing.TB, in *proxytest.Instance, n int) {
	b.Helper()
	ctx := context.Background()
	repo, err := in.Server.Registry().Repository("acme", "internal")
	if err != nil {
		b.Fatal(err)
	}
	var muts []storage.Mutation
	flush := func() {
		if err := in.Store.Apply(ctx, muts); err != nil {
			b.Fatal(err)
		}
		muts = muts[:0]
	}
	now := time.Now().UTC()
	for i := range n {
		p := formats.Package{Format: "npm", Name: fmt.Sprintf("bench-%06d", i)}
		pk := storage.PackageKey{Domain: "acme", RepoID: repo.ID, Format: p.Format, Name: p.Name}
		key, err := pk.Bytes()
		if err != nil {
			b.Fatal(err)
		}
		val, _ := resolver.EncodeRecord(&resolver.PackageRecord{Package: p, Origin: resolver.OriginConfig{Publish: resolver.Allow, Upstream: resolver.Block}, Internal: true, Updated: now})
		vkey, err := pk.VersionKey("1.0.0").Bytes()
		if err != nil {
			b.Fatal(err)
		}
		v := &resolver.VersionRecord{Version: formats.Version{Version: "1.0.0", Status: formats.StatusPublished, Published: now,
			Assets: []formats.AssetRef{{Name: p.Name + "-1.0.0.tgz", Size: 1234, Digests: formats.Digests{SHA256: strings.Repeat("ab", 32)}}}},
			Origin: resolver.VersionOrigin{Type: resolver.OriginInternal, Repository: "internal"}}
		vval, _ := resolver.EncodeRecord(v)
		muts = append(muts, storage.Mutation{Key: key, Value: val}, storage.Mutation{Key: vkey, Value: vval})
		if len(muts) >= 2000 {
			flush()
		}
	}
	flush()
}

// BenchmarkPackageList100k measures the repository page (counts, graph and
// one page of the package list) and searches over 100,000 packages, as the
// server answers them on loopback, once the repository's index is built (the
// first page builds it, and logs how long that took).
func BenchmarkPackageList100k(b *testing.B) {
	in := start(b, nil, 0)
	fill(b, in, 100_000)
	br := newBrowser(b, in)
	br.signIn(in.TokenFor("acme", "AKIAADMIN"))
	t0 := time.Now()
	if p := br.get("/-/ui/d/acme/r/internal"); p.Status != http.StatusOK {
		b.Fatalf("first page: %d", p.Status)
	}
	b.Logf("first page, building the index of 100,001 packages: %v", time.Since(t0))
	for _, bc := range []struct{ name, query, want string }{
		{"first page", "", "of 100001"},
		{"page 1000", "page=1000", "50001–50050 of 100001"},
		{"prefix", "q=bench-0999", "1–50 of 100"},
		{"substring", "q=99999&match=substring", "1–1 of 1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				p := br.get("/-/ui/d/acme/r/internal?" + bc.query)
				if p.Status != http.StatusOK || !strings.Contains(p.Body, bc.want) {
					b.Fatalf("%d, want %q", p.Status, bc.want)
				}
			}
		})
	}
}
