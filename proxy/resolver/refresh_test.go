package resolver_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// TestForcedRevalidationDropsRenderedDocuments checks that once a forced
// revalidation (formats.Fresh: npm's write commands, a tarball of a version
// the cached metadata lacks, the web interface's "Refresh now") finds the
// upstream's metadata changed, every rendered document of the package shows
// it at once: in the repository asked, in another repository and in another
// domain reading the same connection, not only after the connection's TTL.
func TestForcedRevalidationDropsRenderedDocuments(t *testing.T) {
	up := proxytest.NewToyUpstream(t)
	cfg := proxy.Defaults()
	cfg.Connections = map[string]upstream.Options{"public:crates-io": {URL: up.Fake.URL + "/", TTL: time.Hour, NegativeTTL: time.Hour}}
	repos := []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"store"}},
		{Name: "other", Upstreams: []string{"store"}},
		{Name: "store", ExternalConnection: "public:crates-io"},
	}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: repos}, {Name: "beta", Repositories: repos}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}}})
	res := in.Server.Resolver()
	p := formats.Package{Format: "cargo", Name: "demo"}
	paths := []string{"/acme/cargo/app/demo", "/acme/cargo/other/demo", "/beta/cargo/app/demo"}
	get := func(path string) string {
		t.Helper()
		return string(proxytest.GetOK(t, in.URL+path, nil))
	}
	expect := func(step, want string) {
		t.Helper()
		for _, path := range paths {
			if got := get(path); got != want {
				t.Errorf("%s: GET %s = %s, want %s", step, path, got, want)
			}
		}
	}

	up.Publish(t, "demo", "1.0.0")
	v1 := `{"versions":["1.0.0"],"tags":{"latest":"1.0.0"}}`
	// Twice each: a rendered document is kept from its second rendering on.
	expect("warm-up", v1)
	expect("kept", v1)
	up.Publish(t, "demo", "1.0.0", "1.1.0")
	expect("within the TTL, unforced", v1)

	steps := []struct {
		name    string
		publish []string
		force   func() error
		want    string
	}{
		{"a forced view", []string{"1.0.0", "1.1.0"}, func() error {
			_, err := res.View(formats.Fresh(context.Background()), formats.RepoRef{Domain: "acme", Repository: "app"}, p)
			return err
		}, `{"versions":["1.0.0","1.1.0"],"tags":{"latest":"1.1.0"}}`},
		{"Refresh", []string{"1.0.0", "1.1.0", "1.2.0"}, func() error {
			got, err := res.Refresh(context.Background(), formats.RepoRef{Domain: "beta", Repository: "other"}, p)
			if err == nil && (got.Versions != 3 || got.Stale) {
				t.Errorf("Refresh = %+v, want 3 versions, not stale", got)
			}
			return err
		}, `{"versions":["1.0.0","1.1.0","1.2.0"],"tags":{"latest":"1.2.0"}}`},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			up.Publish(t, "demo", st.publish...)
			// Past FreshWithin: a forced revalidation is honoured once per
			// document in that time.
			in.Clock.Advance(time.Minute)
			if err := st.force(); err != nil {
				t.Fatal(err)
			}
			expect("after "+st.name, st.want)
		})
	}

	// A name the upstream answered 404 for is remembered as missing for the
	// negative TTL; a refresh asks again, and the next request finds it.
	t.Run("Refresh of a name remembered as missing", func(t *testing.T) {
		if code, _ := proxytest.Get(t, in.URL+"/acme/cargo/app/later", nil); code != http.StatusNotFound {
			t.Fatalf("before it is published: %d", code)
		}
		up.Publish(t, "later", "0.1.0")
		if code, _ := proxytest.Get(t, in.URL+"/acme/cargo/app/later", nil); code != http.StatusNotFound {
			t.Fatalf("within the negative TTL, unforced: %d", code)
		}
		got, err := res.Refresh(context.Background(), formats.RepoRef{Domain: "acme", Repository: "app"}, formats.Package{Format: "cargo", Name: "later"})
		if err != nil || got.Versions != 1 {
			t.Fatalf("Refresh = %+v, %v", got, err)
		}
		if body := get("/acme/cargo/app/later"); body != `{"versions":["0.1.0"],"tags":{"latest":"0.1.0"}}` {
			t.Fatalf("after the refresh: %s", body)
		}
	})
}
