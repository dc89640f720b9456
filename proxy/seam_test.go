package proxy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	code, b := proxytest.Get(t, url, nil)
	return code, string(b)
}

// startToy starts app → team → store, store's external connection being the
// fake upstream, with a short metadata TTL.
func startToy(t *testing.T) (*proxytest.Instance, *proxytest.ToyUpstream) {
	up := proxytest.NewToyUpstream(t)
	cfg := proxy.Defaults()
	cfg.Connections = map[string]upstream.Options{"public:crates-io": {URL: up.Fake.URL + "/", TTL: time.Millisecond, Retries: 0}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"team"}},
		{Name: "team", Upstreams: []string{"store"}},
		{Name: "store", ExternalConnection: "public:crates-io"},
	}}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}}, OnDisk: true})
	return in, up
}

func TestSeamFetchRetainAndServeOffline(t *testing.T) {
	in, up := startToy(t)
	up.Publish(t, "demo", "1.0.0", "2.0.0")
	base := in.URL + "/acme/cargo/app"

	code, body := get(t, base+"/demo")
	if code != 200 || body != `{"versions":["1.0.0","2.0.0"],"tags":{"latest":"2.0.0"}}` {
		t.Fatalf("metadata: %d %s", code, body)
	}
	code, body = get(t, base+"/demo/1.0.0/demo-1.0.0.txt")
	if code != 200 || body != "the bytes of demo-1.0.0.txt\n" {
		t.Fatalf("asset: %d %q", code, body)
	}
	get(t, base+"/demo/1.0.0/demo-1.0.0.txt")
	if n := up.Fake.Hits("/files/demo-1.0.0.txt"); n != 1 {
		t.Fatalf("upstream asset hits = %d, want 1", n)
	}

	// Retained in app and store, not in team.
	held := map[string]bool{}
	for _, name := range []string{"app", "team", "store"} {
		repo, err := in.Server.Registry().Repository("acme", name)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := in.Server.Resolver().VersionRecord(context.Background(), "acme", repo.ID, formats.Package{Format: "cargo", Name: "demo"}, "1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		held[name] = rec != nil
	}
	if diff := cmp.Diff(map[string]bool{"app": true, "team": false, "store": true}, held); diff != "" {
		t.Fatalf("retention (-want +got):\n%s", diff)
	}

	// The upstream drops 1.0.0 and releases 3.0.0: the merge keeps the
	// retained version and shows the new one.
	up.Publish(t, "demo", "2.0.0", "3.0.0")
	if code, body = get(t, base+"/demo"); body != `{"versions":["1.0.0","2.0.0","3.0.0"],"tags":{"latest":"3.0.0"}}` {
		t.Fatalf("merged metadata: %d %s", code, body)
	}

	// Upstream gone, server restarted: what was fetched is still served,
	// metadata comes from the stale copy.
	up.Fake.Close()
	in.Restart()
	base = in.URL + "/acme/cargo/app"
	if code, body = get(t, base+"/demo/1.0.0/demo-1.0.0.txt"); code != 200 || body != "the bytes of demo-1.0.0.txt\n" {
		t.Fatalf("offline asset: %d %q", code, body)
	}
	if code, body = get(t, base+"/demo"); code != 200 || !strings.Contains(body, `"3.0.0"`) {
		t.Fatalf("offline metadata: %d %s", code, body)
	}
	// Never fetched and upstream down: an upstream error, not a 404.
	if code, _ = get(t, base+"/demo/3.0.0/demo-3.0.0.txt"); code != http.StatusBadGateway {
		t.Fatalf("uncached asset with the upstream down: %d, want 502", code)
	}
}

func TestSeamDependencyConfusionGuard(t *testing.T) {
	in, up := startToy(t)
	up.Publish(t, "secret", "1.0.0", "99.0.0")
	ctx := context.Background()
	team := formats.RepoRef{Domain: "acme", Repository: "team"}
	p := formats.Package{Format: "cargo", Name: "secret"}
	content := []byte("internal secret 0.1.0\n")
	sum := sha256.Sum256(content)
	// 0.1.0 is not offered upstream, so publishing it to team is allowed…
	err := in.Server.Resolver().Publish(ctx, team, p, formats.Publication{
		Version: formats.Version{Version: "0.1.0", Assets: []formats.AssetRef{{Name: "secret-0.1.0.txt", Digests: formats.Digests{SHA256: hex.EncodeToString(sum[:])}}}},
		Content: func(string) (io.Reader, error) { return strings.NewReader(string(content)), nil },
	})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	// …and from then on the public versions of that name are hidden.
	if code, body := get(t, in.URL+"/acme/cargo/app/secret"); code != 200 || body != `{"versions":["0.1.0"],"tags":{}}` {
		t.Fatalf("guarded metadata: %d %s", code, body)
	}
	if code, _ := get(t, in.URL+"/acme/cargo/app/secret/99.0.0/secret-99.0.0.txt"); code != 404 {
		t.Fatalf("public version of an internal name: %d, want 404", code)
	}
	if code, body := get(t, in.URL+"/acme/cargo/app/secret/0.1.0/secret-0.1.0.txt"); code != 200 || body != string(content) {
		t.Fatalf("internal asset: %d %q", code, body)
	}
	// Publishing a version the upstream serves is a conflict.
	err = in.Server.Resolver().Publish(ctx, formats.RepoRef{Domain: "acme", Repository: "app"}, formats.Package{Format: "cargo", Name: "other"}, formats.Publication{
		Version: formats.Version{Version: "1.0.0"}, Content: func(string) (io.Reader, error) { return strings.NewReader(""), nil },
	})
	if err != nil {
		t.Fatalf("publishing a name the upstream does not know: %v", err)
	}
	up.Publish(t, "taken", "1.0.0")
	err = in.Server.Resolver().Publish(ctx, formats.RepoRef{Domain: "acme", Repository: "app"}, formats.Package{Format: "cargo", Name: "taken"}, formats.Publication{
		Version: formats.Version{Version: "1.0.0"}, Content: func(string) (io.Reader, error) { return strings.NewReader(""), nil },
	})
	if err == nil || !strings.Contains(err.Error(), "already available from upstream repository store") {
		t.Fatalf("publishing over an upstream version: %v", err)
	}
}
