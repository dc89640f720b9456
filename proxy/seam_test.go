package proxy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// toy is the smallest format that uses the whole seam. It stands in for a
// format bound to the public:crates-io connection (the catalog binds every
// connection to a real format), with a made-up wire protocol:
//
//	GET /{pkg}                  {"versions": [...listed...], "tags": {...}}
//	GET /{pkg}/{version}/{file} the file
//
// Its upstream serves {pkg}.json: {"versions": {"1.0.0": {"file", "url", "sha256"}}, "tags": {}}.
type toy struct{}

func (toy) Name() string { return "cargo" }

func (toy) Mount(g *echo.Group, r formats.Resolver) {
	g.GET("/:pkg", func(c echo.Context) error {
		ref := formats.RepoFrom(c)
		p := formats.Package{Format: "cargo", Name: c.Param("pkg")}
		doc, err := r.Render(c.Request().Context(), ref, p, "json", func(v *formats.View) (*formats.Rendered, error) {
			out := struct {
				Versions []string          `json:"versions"`
				Tags     map[string]string `json:"tags"`
			}{Versions: []string{}, Tags: v.Tags}
			for ver, vv := range v.Versions {
				if vv.Status.Listed() {
					out.Versions = append(out.Versions, ver)
				}
			}
			sort.Strings(out.Versions)
			b, err := json.Marshal(out)
			return &formats.Rendered{Body: b, ContentType: "application/json"}, err
		})
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, doc.ContentType, doc.Body)
	})
	g.GET("/:pkg/:version/:file", func(c echo.Context) error {
		p := formats.Package{Format: "cargo", Name: c.Param("pkg")}
		return r.ServeAsset(c.Response(), c.Request(), formats.RepoFrom(c), p, c.Param("version"), c.Param("file"))
	})
}

func (toy) FetchMetadata(ctx context.Context, g formats.Getter, p formats.Package) (*formats.Metadata, error) {
	doc, err := g.Get(ctx, p.Name+".json", "application/json")
	if err != nil {
		return nil, err
	}
	var in struct {
		Versions map[string]struct{ File, URL, SHA256 string }
		Tags     map[string]string
	}
	if err := json.Unmarshal(doc.Body, &in); err != nil {
		return nil, fmt.Errorf("toy: %w", err)
	}
	md := &formats.Metadata{Versions: map[string]*formats.Version{}, Tags: in.Tags}
	for ver, f := range in.Versions {
		md.Versions[ver] = &formats.Version{Version: ver, Status: formats.StatusPublished,
			Assets: []formats.AssetRef{{Name: f.File, URL: f.URL, Digests: formats.Digests{SHA256: f.SHA256}}}}
	}
	return md, nil
}

type toyUpstream struct {
	fake  *upstreamtest.Server
	files map[string][]byte
}

func (u *toyUpstream) publish(t *testing.T, pkg string, versions ...string) {
	t.Helper()
	type entry struct{ File, URL, SHA256 string }
	doc := struct {
		Versions map[string]entry  `json:"versions"`
		Tags     map[string]string `json:"tags"`
	}{Versions: map[string]entry{}, Tags: map[string]string{"latest": versions[len(versions)-1]}}
	for _, v := range versions {
		file := pkg + "-" + v + ".txt"
		body := []byte("the bytes of " + file + "\n")
		sum := sha256.Sum256(body)
		path := "/files/" + file
		u.fake.Handle(path, upstreamtest.Response{Body: body, ContentType: "text/plain"})
		doc.Versions[v] = entry{File: file, URL: u.fake.URL + path, SHA256: hex.EncodeToString(sum[:])}
	}
	b, _ := json.Marshal(doc)
	u.fake.Handle("/"+pkg+".json", upstreamtest.Response{Body: b, ContentType: "application/json"})
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startToy starts app → team → store, store's external connection being the
// fake upstream, with a short metadata TTL.
func startToy(t *testing.T) (*proxytest.Instance, *toyUpstream) {
	up := &toyUpstream{fake: upstreamtest.New(t)}
	cfg := proxy.Defaults()
	cfg.Connections = map[string]upstream.Options{"public:crates-io": {URL: up.fake.URL + "/", TTL: time.Millisecond, Retries: 0}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"team"}},
		{Name: "team", Upstreams: []string{"store"}},
		{Name: "store", ExternalConnection: "public:crates-io"},
	}}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{toy{}}, OnDisk: true})
	return in, up
}

func TestSeamFetchRetainAndServeOffline(t *testing.T) {
	in, up := startToy(t)
	up.publish(t, "demo", "1.0.0", "2.0.0")
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
	if n := up.fake.Hits("/files/demo-1.0.0.txt"); n != 1 {
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
	up.publish(t, "demo", "2.0.0", "3.0.0")
	if code, body = get(t, base+"/demo"); body != `{"versions":["1.0.0","2.0.0","3.0.0"],"tags":{"latest":"3.0.0"}}` {
		t.Fatalf("merged metadata: %d %s", code, body)
	}

	// Upstream gone, server restarted: what was fetched is still served,
	// metadata comes from the stale copy.
	up.fake.Close()
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
	up.publish(t, "secret", "1.0.0", "99.0.0")
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
	up.publish(t, "taken", "1.0.0")
	err = in.Server.Resolver().Publish(ctx, formats.RepoRef{Domain: "acme", Repository: "app"}, formats.Package{Format: "cargo", Name: "taken"}, formats.Publication{
		Version: formats.Version{Version: "1.0.0"}, Content: func(string) (io.Reader, error) { return strings.NewReader(""), nil },
	})
	if err == nil || !strings.Contains(err.Error(), "already available from upstream repository store") {
		t.Fatalf("publishing over an upstream version: %v", err)
	}
}
