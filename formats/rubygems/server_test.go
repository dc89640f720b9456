package rubygems

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// env is a running Stockpile with the brief's graph: app → internal, team;
// team → ruby-store; ruby-store → public:ruby-gems-org (a fakeSource).
type env struct {
	in    *proxytest.Instance
	src   *fakeSource
	token string
}

type envOptions struct {
	ttl    time.Duration // of the connection's documents; 0 for an hour
	auth   bool          // require tokens
	format *Format       // nil for New()
	// publish, when set, publishes the upstream's gems instead of the
	// fixture set; configure edits the configuration before the start.
	publish   func(testing.TB, *fakeSource)
	configure func(*proxy.Config)
	replicas  int // when > 0, that many replicas on PostgreSQL and SeaweedFS behind a load balancer
}

func startEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	fixtures(t)
	src := newFakeSource(t)
	if o.publish != nil {
		o.publish(t, src)
	} else {
		src.publishFixtures(t)
	}
	if o.ttl == 0 {
		o.ttl = time.Hour
	}
	cfg := proxy.Defaults()
	cfg.Connections = map[string]upstream.Options{"public:ruby-gems-org": {URL: src.Fake.URL + "/", TTL: o.ttl, Retries: 1, MaxRetryWait: time.Millisecond}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"internal", "team"}},
		{Name: "team", Upstreams: []string{"ruby-store"}},
		{Name: "ruby-store", ExternalConnection: "public:ruby-gems-org"},
		{Name: "internal"},
	}}}
	if o.auth {
		cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIDSTOCKPILETEST", Secret: "stockpile-test-secret"}}
	}
	if o.format == nil {
		o.format = New()
	}
	if o.configure != nil {
		o.configure(&cfg)
	}
	var in *proxytest.Instance
	if o.replicas > 0 {
		in, _ = proxytest.StartReplicas(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{o.format}, OpenStore: engines.SharedStore(t)}, o.replicas)
	} else {
		in = proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{o.format}, OnDisk: true})
	}
	e := &env{in: in, src: src}
	if o.auth {
		e.token = in.Token("acme")
	}
	return e
}

// url is the source URL of a repository, with its trailing slash.
func (e *env) url(repo string) string { return e.in.URL + "/acme/ruby/" + repo + "/" }

type response struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(t *testing.T, method, url string, header http.Header, body []byte) response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if e.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	code, h, b := proxytest.Do(t, req)
	return response{code, h, b}
}

func (e *env) get(t *testing.T, url string) response {
	t.Helper()
	return e.do(t, http.MethodGet, url, nil, nil)
}

// push publishes a gem into a repository as gem push does.
func (e *env) push(t *testing.T, repo string, g *builtGem) response {
	t.Helper()
	return e.do(t, http.MethodPost, e.in.URL+"/acme/ruby/"+repo+"/api/v1/gems", http.Header{"Content-Type": {"application/octet-stream"}}, g.body)
}

func md5hex(b []byte) string {
	m := md5.Sum(b)
	return hex.EncodeToString(m[:])
}

func reprDigest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(s[:]) + ":"
}

// checkValidators checks that an index answer carries the validators of
// its own bytes.
func checkValidators(t *testing.T, what string, r response) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", what, r.status, r.body)
	}
	if got, want := r.header.Get("ETag"), `"`+md5hex(r.body)+`"`; got != want {
		t.Errorf("%s: ETag %s, want the quoted MD5 of the body %s", what, got, want)
	}
	if got, want := r.header.Get("Repr-Digest"), reprDigest(r.body); got != want {
		t.Errorf("%s: Repr-Digest %s, want %s", what, got, want)
	}
}

// lastMD5s reads a /versions file: each gem's MD5 on its last line.
func lastMD5s(body []byte) map[string]string {
	out := map[string]string{}
	forEachLine(body, func(line, _ []byte) {
		name, _, m := splitVersionsLine(line)
		out[string(name)] = string(m)
	})
	return out
}

// checkSelfConsistent checks that every gem's MD5 in a repository's
// /versions is the MD5 of the repository's /info for it.
func (e *env) checkSelfConsistent(t *testing.T, repo string) []byte {
	t.Helper()
	v := e.get(t, e.url(repo)+"versions")
	checkValidators(t, repo+" /versions", v)
	for name, m := range lastMD5s(v.body) {
		info := e.get(t, e.url(repo)+"info/"+name)
		checkValidators(t, repo+" /info/"+name, info)
		if got := md5hex(info.body); got != m {
			t.Errorf("%s: /versions says the info of %s has MD5 %s, /info/%s has %s:\n%s", repo, name, m, name, got, info.body)
		}
	}
	return v.body
}

func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
