package cargo_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/cargo"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// registry is a fake crates.io: a sparse index on one port whose
// config.json sends downloads to a second port.
type registry struct {
	Index *upstreamtest.Server
	DL    *upstreamtest.Server
	style string

	mu    sync.Mutex
	lines map[string][]string // lower-cased name → index lines
}

// dl styles of the fake registry's config.json.
const (
	styleMarkers  = "markers"   // {prefix}/{crate}/{crate}-{version}.crate
	styleCratesIO = "crates.io" // no marker: cargo appends /{crate}/{version}/download
	styleChecksum = "checksum"  // {lowerprefix}/{sha256-checksum}
)

func newRegistry(t *testing.T, style string) *registry {
	t.Helper()
	r := &registry{Index: upstreamtest.New(t), DL: upstreamtest.New(t), style: style, lines: map[string][]string{}}
	var dl string
	switch style {
	case styleMarkers:
		dl = r.DL.URL + "/files/{prefix}/{crate}/{crate}-{version}.crate"
	case styleCratesIO:
		dl = r.DL.URL + "/crates"
	case styleChecksum:
		dl = r.DL.URL + "/by-sum/{lowerprefix}/{sha256-checksum}"
	default:
		t.Fatalf("unknown dl style %q", style)
	}
	r.Index.Handle("/config.json", upstreamtest.Response{
		Body:        []byte(fmt.Sprintf(`{"dl":%q,"api":"https://crates.example"}`, dl)),
		ContentType: "application/json",
	})
	return r
}

// dlPath is where the fake serves the .crate of c.
func (r *registry) dlPath(c *crate) string {
	switch r.style {
	case styleMarkers:
		return "/files/" + indexDir(c.name) + "/" + c.name + "/" + c.name + "-" + c.version + ".crate"
	case styleCratesIO:
		return "/crates/" + c.name + "/" + c.version + "/download"
	default:
		return "/by-sum/" + strings.ToLower(indexDir(c.name)) + "/" + c.sha256
	}
}

// indexDir mirrors the format's index directories ({prefix}).
func indexDir(name string) string { return formattest.CargoIndexDir(name) }

func indexPath(name string) string {
	l := strings.ToLower(name)
	return indexDir(l) + "/" + l
}

// line is the index line the fake registry publishes for c. A few lines
// carry what a proxy must relay untouched: a requirement with '<' (which
// Go's JSON encoder would escape), rust_version, an unknown member, a space
// after a colon.
func line(c *crate, yanked bool) string {
	var deps []string
	for _, d := range c.deps {
		req := "^0.1"
		if c.name == "c_d" {
			req = ">=0.1, <0.2"
		}
		deps = append(deps, fmt.Sprintf(`{"name":%q,"req":%q,"features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":null,"package":null}`, d, req))
	}
	extra := ""
	switch {
	case c.name == "long-crate-name" && c.version == "1.1.0":
		extra = `,"rust_version":"1.56","x-stockpile-test":{"k":[1,2]},"v":2,"features2":{}`
	case c.name == "long-crate-name" && c.version == "1.2.0":
		return fmt.Sprintf(`{"name":%q,"vers":%q,"deps":[%s],"cksum":%q,"features":{},"yanked": %t,"links":null}`, c.name, c.version, strings.Join(deps, ","), c.sha256, yanked)
	}
	return fmt.Sprintf(`{"name":%q,"vers":%q,"deps":[%s],"cksum":%q,"features":{},"yanked":%t,"links":null%s}`, c.name, c.version, strings.Join(deps, ","), c.sha256, yanked, extra)
}

// publish adds c to the fake registry (its index line and its .crate).
func (r *registry) publish(c *crate, yanked bool) {
	r.publishLine(c, line(c, yanked))
	r.DL.Handle(r.dlPath(c), upstreamtest.Response{Body: c.bytes, ContentType: "application/octet-stream"})
}

// publishLine adds c with a given index line.
func (r *registry) publishLine(c *crate, ln string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := strings.ToLower(c.name)
	r.lines[key] = append(r.lines[key], ln)
	r.Index.Handle("/"+indexPath(c.name), upstreamtest.Response{Body: []byte(strings.Join(r.lines[key], "\n") + "\n"), ContentType: "text/plain"})
}

// replace makes the index file of name exactly these lines.
func (r *registry) replace(name string, lines ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := strings.ToLower(name)
	r.lines[key] = lines
	r.Index.Handle("/"+indexPath(name), upstreamtest.Response{Body: []byte(strings.Join(lines, "\n") + "\n"), ContentType: "text/plain"})
}

// file is the current index file of name.
func (r *registry) file(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines[strings.ToLower(name)], "\n") + "\n"
}

// standard publishes every fixture crate: the dependency chain, three
// versions of long-crate-name with 1.2.0 yanked, Mixed_Case, and the public
// acme-internal 9.9.9.
func (r *registry) standard(t *testing.T) {
	t.Helper()
	for _, id := range []string{"a@0.1.0", "bb@0.1.0", "c_d@0.1.0", "long-crate-name@1.0.0", "long-crate-name@1.1.0", "long-crate-name@1.2.0", "Mixed_Case@0.1.0", "acme-internal@9.9.9"} {
		name, version, _ := strings.Cut(id, "@")
		r.publish(fixture(t, name, version), id == "long-crate-name@1.2.0")
	}
}

// stockpile starts a server with app → [internal, team], team →
// cargo-store, cargo-store → public:crates-io (the fake registry).
func stockpile(t *testing.T, reg *registry, opts upstream.Options, edit func(*proxy.Config)) *proxytest.Instance {
	t.Helper()
	return stockpileWith(t, reg, opts, edit, func(o proxytest.Options) *proxytest.Instance {
		o.OnDisk = true
		return proxytest.Start(t, o)
	})
}

// stockpileReplicas is stockpile on three replicas sharing PostgreSQL and
// SeaweedFS behind a round-robin load balancer; the instance returned is
// the load balancer's front.
func stockpileReplicas(t *testing.T, reg *registry, opts upstream.Options, edit func(*proxy.Config)) *proxytest.Instance {
	t.Helper()
	open := engines.SharedStore(t)
	return stockpileWith(t, reg, opts, edit, func(o proxytest.Options) *proxytest.Instance {
		o.OpenStore = open
		front, _ := proxytest.StartReplicas(t, o, 3)
		return front
	})
}

func stockpileWith(t *testing.T, reg *registry, opts upstream.Options, edit func(*proxy.Config), start func(proxytest.Options) *proxytest.Instance) *proxytest.Instance {
	t.Helper()
	cfg := proxy.Defaults()
	opts.URL = reg.Index.URL + "/"
	// Downloads come from another port, as crates.io's come from
	// static.crates.io: allowed like the catalog's file host.
	opts.AllowedHosts = append(opts.AllowedHosts, strings.TrimPrefix(reg.DL.URL, "http://"))
	cfg.Connections = map[string]upstream.Options{"public:crates-io": opts}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"internal", "team"}},
		{Name: "team", Upstreams: []string{"cargo-store"}},
		{Name: "cargo-store", ExternalConnection: "public:crates-io"},
		{Name: "internal"},
	}}}
	if edit != nil {
		edit(&cfg)
	}
	return start(proxytest.Options{Config: &cfg, Formats: []formats.Format{cargo.New()}})
}

// withKeys requires tokens on the data plane.
func withKeys(cfg *proxy.Config) {
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIDTEST", Secret: "secret"}}
}

// response is a completed HTTP exchange.
type response struct {
	Code   int
	Header http.Header
	Body   string
}

// do sends a request; header alternates names and values.
func do(t *testing.T, method, url string, body io.Reader, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return response{Code: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func get(t *testing.T, url string, header ...string) response {
	t.Helper()
	return do(t, http.MethodGet, url, nil, header...)
}

// held reports which of the repositories hold a version of a crate.
func held(t *testing.T, in *proxytest.Instance, name, version string, repos ...string) []string {
	t.Helper()
	var out []string
	for _, repo := range repos {
		r, err := in.Server.Registry().Repository("acme", repo)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := in.Server.Resolver().VersionRecord(context.Background(), "acme", r.ID, (&cargo.Format{}).Normalize(formats.Package{Format: "cargo", Name: name}), version)
		if err != nil {
			t.Fatal(err)
		}
		if rec != nil {
			out = append(out, repo)
		}
	}
	slices.Sort(out)
	return out
}
