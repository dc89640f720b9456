package npm

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
	"github.com/stockpile-proxy/stockpile/storage/enginetest"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// fixture is a real tarball made by npm pack at test time.
type fixture struct {
	name, version string
	manifest      map[string]any // package.json
	tgz           []byte
	integrity     string // sha512 SRI
	shasum        string // sha1 hex
}

// fixtureSpecs are the packages the tests pack: left-pad-lite and
// @acme/util are served by the fake upstream, @acme/util@1.1.5 and
// @acme/private-lib are published.
var fixtureSpecs = []struct {
	name, version string
	extra         map[string]any
}{
	{"left-pad-lite", "1.0.0", nil},
	{"left-pad-lite", "1.1.0", map[string]any{"scripts": map[string]any{"postinstall": "node -e 0"}, "engines": map[string]any{"node": ">=14"}}},
	{"left-pad-lite", "2.0.0-beta.1", nil},
	{"@acme/util", "1.0.0", map[string]any{"dependencies": map[string]any{"left-pad-lite": "^1.0.0"}}},
	{"@acme/util", "1.2.0", map[string]any{"dependencies": map[string]any{"left-pad-lite": "^1.0.0"}}},
	{"@acme/util", "1.1.5", map[string]any{"dependencies": map[string]any{"left-pad-lite": "^1.0.0"}}},
	{"@acme/private-lib", "1.0.0", nil},
	{"@acme/private-lib", "1.1.0", nil},
	{"@acme/private-lib", "1.2.0", nil},
}

var (
	packOnce sync.Once
	packed   map[string]*fixture
	packErr  error
	packDir  string
)

// engines are PostgreSQL and SeaweedFS, started for the replicas tests.
var engines *enginetest.Engines

func TestMain(m *testing.M) { os.Exit(enginetest.MainRemoving(m, &engines, &packDir)) }

// npmEnv isolates npm from the machine's configuration and from the
// network: an empty user and global config, a private cache, a registry on
// a closed loopback port unless the caller sets one.
func npmEnv(dir string, extra ...string) []string {
	rc := filepath.Join(dir, "npmrc")
	global := filepath.Join(dir, "globalrc")
	for _, f := range []string{rc, global} {
		if _, err := os.Stat(f); err != nil {
			os.WriteFile(f, nil, 0o600)
		}
	}
	env := []string{
		"HOME=" + dir,
		"PATH=" + os.Getenv("PATH"),
		"npm_config_userconfig=" + rc,
		"npm_config_globalconfig=" + global,
		"npm_config_cache=" + filepath.Join(dir, "cache"),
		"npm_config_update_notifier=false",
		"npm_config_fund=false",
		"npm_config_audit=false",
		"npm_config_loglevel=warn",
		"npm_config_registry=http://127.0.0.1:9/",
	}
	return append(env, extra...)
}

// fixtures packs every fixture once per test binary.
func fixtures(t testing.TB) map[string]*fixture {
	t.Helper()
	proxytest.RequireTool(t, "npm")
	packOnce.Do(func() { packed, packErr = pack() })
	if packErr != nil {
		t.Fatalf("npm pack: %v", packErr)
	}
	return packed
}

func pack() (map[string]*fixture, error) {
	if _, err := exec.LookPath("npm"); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "stockpile-npm-fixtures-")
	if err != nil {
		return nil, err
	}
	packDir = dir
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	args := []string{"pack", "--json", "--pack-destination", out}
	out2 := map[string]*fixture{}
	for i, s := range fixtureSpecs {
		pd := filepath.Join(dir, fmt.Sprintf("pkg%d", i))
		if err := os.MkdirAll(pd, 0o755); err != nil {
			return nil, err
		}
		m := map[string]any{
			"name": s.name, "version": s.version, "description": "fixture " + s.name,
			"main": "index.js", "license": "MIT", "keywords": []string{"fixture", "stockpile"},
		}
		for k, v := range s.extra {
			m[k] = v
		}
		pj, _ := json.MarshalIndent(m, "", "  ")
		files := map[string]string{
			"package.json": string(pj),
			"index.js":     fmt.Sprintf("module.exports = %q;\n", s.name+"@"+s.version),
			"README.md":    "# " + s.name + "\n\n" + strings.Repeat("A fixture package for Stockpile's npm tests. ", 40) + "\n",
		}
		for f, c := range files {
			if err := os.WriteFile(filepath.Join(pd, f), []byte(c), 0o644); err != nil {
				return nil, err
			}
		}
		args = append(args, pd)
		out2[s.name+"@"+s.version] = &fixture{name: s.name, version: s.version, manifest: m}
	}
	cmd := exec.Command("npm", args...)
	cmd.Dir = dir
	cmd.Env = npmEnv(dir, "npm_config_offline=true")
	stdout, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return nil, fmt.Errorf("%v: %s", err, stderr)
	}
	var res []struct {
		Name, Version, Filename string
	}
	if err := json.Unmarshal(stdout, &res); err != nil {
		return nil, fmt.Errorf("npm pack output: %v: %s", err, stdout)
	}
	for _, r := range res {
		f := out2[r.Name+"@"+r.Version]
		if f == nil {
			return nil, fmt.Errorf("npm pack made an unexpected %s@%s", r.Name, r.Version)
		}
		b, err := os.ReadFile(filepath.Join(out, filepath.Base(r.Filename)))
		if err != nil {
			return nil, err
		}
		s512 := sha512.Sum512(b)
		s1 := sha1.Sum(b)
		f.tgz, f.integrity, f.shasum = b, "sha512-"+base64.StdEncoding.EncodeToString(s512[:]), hex.EncodeToString(s1[:])
	}
	for k, f := range out2 {
		if f.tgz == nil {
			return nil, fmt.Errorf("npm pack did not make %s", k)
		}
	}
	return out2, nil
}

// env is a Stockpile with the npm format in front of a fake upstream:
// domain acme, app → [team → npm-store (public:npmjs), internal].
type env struct {
	t    *testing.T
	fake *upstreamtest.Server
	in   *proxytest.Instance
	fx   map[string]*fixture
	ups  map[string][]byte // package → upstream packument body
	http *http.Client
}

func newEnv(t *testing.T, f *Format) *env {
	t.Helper()
	return newEnvWith(t, f, upstream.Options{})
}

// newEnvWith is newEnv with settings for the external connection (its URL
// is filled in).
func newEnvWith(t *testing.T, f *Format, conn upstream.Options) *env {
	t.Helper()
	return newEnvConfig(t, f, conn, nil)
}

// newEnvConfig is newEnvWith with a last edit of the server configuration.
func newEnvConfig(t *testing.T, f *Format, conn upstream.Options, edit func(*proxy.Config)) *env {
	t.Helper()
	return newEnvStart(t, f, conn, edit, func(o proxytest.Options) *proxytest.Instance { return proxytest.Start(t, o) })
}

// newEnvReplicas is newEnv on n replicas sharing PostgreSQL and SeaweedFS
// behind a round-robin load balancer: e.in is the load balancer's front.
func newEnvReplicas(t *testing.T, n int) *env {
	t.Helper()
	open := engines.SharedStore(t)
	return newEnvStart(t, nil, upstream.Options{}, nil, func(o proxytest.Options) *proxytest.Instance {
		o.OpenStore = open
		front, _ := proxytest.StartReplicas(t, o, n)
		return front
	})
}

// newEnvStart builds the environment, starting the server with start.
func newEnvStart(t *testing.T, f *Format, conn upstream.Options, edit func(*proxy.Config), start func(proxytest.Options) *proxytest.Instance) *env {
	t.Helper()
	fx := fixtures(t)
	fake := upstreamtest.New(t)
	cfg := proxy.Defaults()
	conn.URL = fake.URL + "/"
	cfg.Connections = map[string]upstream.Options{"public:npmjs": conn}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"team", "internal"}},
		{Name: "team", Upstreams: []string{"npm-store"}},
		{Name: "npm-store", ExternalConnection: "public:npmjs"},
		{Name: "internal"},
	}}}
	if f == nil {
		f = New()
	}
	if edit != nil {
		edit(&cfg)
	}
	in := start(proxytest.Options{Config: &cfg, Formats: []formats.Format{f}})
	e := &env{
		t: t, fake: fake, in: in, fx: fx, ups: map[string][]byte{},
		// No transparent gzip: the tests look at what the server sends.
		http: &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 30 * time.Second},
	}
	t.Cleanup(e.http.CloseIdleConnections)
	e.serveUpstream("left-pad-lite", []string{"1.0.0", "1.1.0", "2.0.0-beta.1"}, map[string]string{"latest": "1.1.0", "beta": "2.0.0-beta.1"})
	e.serveUpstream("@acme/util", []string{"1.0.0", "1.2.0"}, map[string]string{"latest": "1.2.0"})
	return e
}

// upstreamTarballPath is where the fake registry serves a tarball.
func upstreamTarballPath(name, version string) string {
	base := name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		base = name[i+1:]
	}
	return "/" + name + "/-/" + base + "-" + version + ".tgz"
}

// serveUpstream publishes a package on the fake registry the way the public
// registry serves it: full packument at /{name} (the fake matches the
// decoded path, so @scope%2fname lands on /@scope/name) with absolute
// tarball URLs on the fake's host, and the tarballs.
func (e *env) serveUpstream(name string, versions []string, tags map[string]string) {
	e.t.Helper()
	e.serveUpstreamAt(name, versions, tags, nil)
}

// serveUpstreamAt is serveUpstream with the publish times of the versions
// given ("" leaves a version out of time); nil gives each a fixed one.
func (e *env) serveUpstreamAt(name string, versions []string, tags map[string]string, at map[string]string) {
	e.t.Helper()
	vs := map[string]any{}
	times := map[string]any{"created": "2024-01-01T00:00:00.000Z", "modified": "2024-03-01T00:00:00.000Z"}
	for i, v := range versions {
		f := e.fx[name+"@"+v]
		obj := map[string]any{}
		for k, val := range f.manifest {
			obj[k] = val
		}
		obj["_id"] = name + "@" + v
		obj["_npmVersion"] = "11.19.1"
		obj["_npmUser"] = map[string]any{"name": "alice", "email": "alice@example.com"}
		obj["dist"] = map[string]any{
			"tarball":      e.fake.URL + upstreamTarballPath(name, v),
			"shasum":       f.shasum,
			"integrity":    f.integrity,
			"fileCount":    3,
			"unpackedSize": 1234,
			"signatures":   []any{map[string]any{"keyid": "SHA256:fixture-key", "sig": "MEUCIQDfixture" + v}},
		}
		vs[v] = obj
		times[v] = fmt.Sprintf("2024-02-%02dT00:00:00.000Z", i+1)
		if at != nil {
			times[v] = at[v]
			if at[v] == "" {
				delete(times, v)
			}
		}
		e.fake.Handle(upstreamTarballPath(name, v), upstreamtest.Response{Body: f.tgz, ContentType: "application/octet-stream"})
	}
	doc := map[string]any{
		"_id": name, "_rev": "7-0123456789abcdef", "name": name, "description": "fixture " + name,
		"dist-tags": tags, "versions": vs, "time": times, "license": "MIT",
		"readme":      "# " + name + "\n\n" + strings.Repeat("Upstream readme text. ", 100),
		"maintainers": []any{map[string]any{"name": "alice", "email": "alice@example.com"}},
		"users":       map[string]any{"bob": true},
	}
	body, _ := json.MarshalIndent(doc, "", "  ")
	e.ups[name] = body
	e.fake.Handle("/"+name, upstreamtest.Response{Body: body, ContentType: "application/json"})
}

// result is an answer read in full.
type result struct {
	status  int
	line    string // the status line's code and reason phrase ("403 Forbidden")
	header  http.Header
	body    []byte
	readErr error
}

// url is the address of path in repository repo.
func (e *env) url(repo, path string) string {
	return e.in.URL + "/acme/npm/" + repo + "/" + path
}

// do sends a request; hdr holds header name/value pairs.
func (e *env) do(method, url string, body []byte, hdr ...string) *result {
	e.t.Helper()
	return e.doWith(e.http, method, url, body, hdr...)
}

// doWith sends a request with client c.
func (e *env) doWith(c *http.Client, method, url string, body []byte, hdr ...string) *result {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return &result{readErr: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return &result{status: resp.StatusCode, line: resp.Status, header: resp.Header, body: b, readErr: err}
}

func (e *env) get(repo, path string, hdr ...string) *result {
	e.t.Helper()
	return e.do(http.MethodGet, e.url(repo, path), nil, hdr...)
}

// must checks the status of r and fails the test with the body otherwise.
func (r *result) must(t *testing.T, status int) *result {
	t.Helper()
	if r.readErr != nil {
		t.Fatalf("request failed: %v", r.readErr)
	}
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// json decodes the body into v.
func (r *result) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// npmError checks an npm-shaped error body and returns its message.
func (r *result) npmError(t *testing.T, status int) string {
	t.Helper()
	r.must(t, status)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error content type %q, want application/json", ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	r.json(t, &e)
	if e.Error == "" {
		t.Errorf("error body %s has no error message", r.body)
	}
	return e.Error
}

// packument is the part of a packument the tests read.
type packument struct {
	ID       string                     `json:"_id"`
	Rev      string                     `json:"_rev"`
	Name     string                     `json:"name"`
	Modified string                     `json:"modified"`
	Tags     map[string]string          `json:"dist-tags"`
	Versions map[string]json.RawMessage `json:"versions"`
	Time     map[string]string          `json:"time"`
	Readme   string                     `json:"readme"`
}

type versionDocT struct {
	Name             string `json:"name"`
	Version          string `json:"version"`
	Deprecated       string `json:"deprecated"`
	HasInstallScript bool   `json:"hasInstallScript"`
	Dist             struct {
		Tarball   string `json:"tarball"`
		Integrity string `json:"integrity"`
		Shasum    string `json:"shasum"`
	} `json:"dist"`
}

func (p *packument) version(t *testing.T, v string) versionDocT {
	t.Helper()
	raw, ok := p.Versions[v]
	if !ok {
		t.Fatalf("packument of %s has no version %s (has %v)", p.Name, v, keys(p.Versions))
	}
	var vo versionDocT
	if err := json.Unmarshal(raw, &vo); err != nil {
		t.Fatal(err)
	}
	return vo
}

func (e *env) packument(repo, escaped string, hdr ...string) *packument {
	e.t.Helper()
	r := e.get(repo, escaped, hdr...).must(e.t, http.StatusOK)
	var p packument
	r.json(e.t, &p)
	return &p
}

// record returns repository repo's record of a version, or nil.
func (e *env) record(repo string, p formats.Package, version string) *resolver.VersionRecord {
	e.t.Helper()
	r, err := e.in.Server.Registry().Repository("acme", repo)
	if err != nil {
		e.t.Fatal(err)
	}
	rec, err := e.in.Server.Resolver().VersionRecord(context.Background(), "acme", r.ID, p, version)
	if err != nil {
		e.t.Fatal(err)
	}
	return rec
}

// publishBody builds the body npm publish sends (reference §1.3.4).
func publishBody(f *fixture, tag string, edit func(doc, version map[string]any, att map[string]any)) []byte {
	v := map[string]any{}
	for k, val := range f.manifest {
		v[k] = val
	}
	base := f.name
	v["_id"] = f.name + "@" + f.version
	v["_nodeVersion"] = "20.20.2"
	v["_npmVersion"] = "11.19.1"
	v["readme"] = "# " + f.name + "\n"
	v["dist"] = map[string]any{
		"integrity": f.integrity,
		"shasum":    f.shasum,
		"tarball":   "http://client.invalid/" + base + "/-/" + base + "-" + f.version + ".tgz",
	}
	att := map[string]any{"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(f.tgz), "length": len(f.tgz)}
	doc := map[string]any{
		"_id": f.name, "name": f.name, "description": f.manifest["description"],
		"dist-tags": map[string]any{tag: f.version},
		"versions":  map[string]any{f.version: v},
		"access":    "public",
		"_attachments": map[string]any{
			f.name + "-" + f.version + ".tgz": att,
		},
	}
	if edit != nil {
		edit(doc, v, att)
	}
	b, _ := json.Marshal(doc)
	return b
}

// publish publishes a fixture to repo and expects 200.
func (e *env) publish(repo string, f *fixture, tag string) {
	e.t.Helper()
	e.do(http.MethodPut, e.url(repo, escapeName(f.name)), publishBody(f, tag, nil)).must(e.t, http.StatusOK)
}

func escapeName(name string) string { return strings.Replace(name, "/", "%2f", 1) }

func pkgOf(name string) formats.Package {
	p, err := parseName(name, false)
	if err != nil {
		panic(err)
	}
	return p
}

// tarballPath is the path below a repository of a conventional tarball.
func tarballPath(name, version string) string {
	return strings.TrimPrefix(upstreamTarballPath(name, version), "/")
}
