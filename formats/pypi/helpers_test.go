package pypi

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// env is a Stockpile serving PyPI with the graph
//
//	app → [internal, team], team → [pypi-store], pypi-store → public:pypi
//
// public:pypi being a fake PyPI whose files are on a second server.
type env struct {
	t     *testing.T
	in    *proxytest.Instance
	up    *fakePyPI
	fx    *fixtureSet
	token string
	// replicas: in is the front of several replicas, which do not restart
	replicas bool
}

type envOptions struct {
	ttl      time.Duration // metadata TTL of the connection (default 1h)
	open     bool          // no access keys: no tokens needed
	format   *Format       // default New()
	upstream *fakePyPI     // default standardUpstream
	publish  int64         // engine's MaxPublishSize
	edit     func(*proxy.Config)
	replicas int // when > 0, that many replicas on PostgreSQL and SeaweedFS behind a load balancer
}

func startEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	fx := fixtures(t)
	up := o.upstream
	if up == nil {
		up = standardUpstream(t, fx)
	}
	if o.ttl == 0 {
		o.ttl = time.Hour
	}
	if o.format == nil {
		o.format = New()
	}
	cfg := proxy.Defaults()
	cfg.Connections = map[string]upstream.Options{"public:pypi": {URL: up.Index.URL + "/simple/", TTL: o.ttl, Retries: 1,
		// Files come from a second port, as PyPI's come from its files host.
		AllowedHosts: []string{strings.TrimPrefix(up.Files.URL, "http://")}}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"internal", "team"}},
		{Name: "team", Upstreams: []string{"pypi-store"}},
		{Name: "pypi-store", ExternalConnection: "public:pypi"},
		{Name: "internal"},
	}}}
	if !o.open {
		cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIDPYPITEST", Secret: "pypi-test-secret"}}
	}
	if o.publish > 0 {
		cfg.MaxPublishSize = o.publish
	}
	if o.edit != nil {
		o.edit(&cfg)
	}
	var in *proxytest.Instance
	if o.replicas > 0 {
		in, _ = proxytest.StartReplicas(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{o.format}, OpenStore: engines.SharedStore(t)}, o.replicas)
	} else {
		in = proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{o.format}, OnDisk: true})
	}
	e := &env{t: t, in: in, up: up, fx: fx, replicas: o.replicas > 0}
	if !o.open {
		e.token = in.Token("acme")
	}
	return e
}

// repo is the base URL of a repository's PyPI endpoint.
func (e *env) repo(name string) string { return e.in.URL + "/acme/pypi/" + name }

// response is what a test request got.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) String() string { return string(r.Body) }

// client sends requests without following redirects or decompressing.
var client = &http.Client{
	Transport:     &http.Transport{DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       60 * time.Second,
}

// do sends a request with the env's token as Basic credentials (as pip
// sends the ones in the index URL). Header values "-" remove the default.
func (e *env) do(method, url string, h http.Header, body io.Reader) *response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.token != "" {
		req.SetBasicAuth("aws", e.token)
	}
	for k, vs := range h {
		if len(vs) == 1 && vs[0] == "-" {
			req.Header.Del(k)
			continue
		}
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read: %v", method, url, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (e *env) get(url string, h http.Header) *response { return e.do(http.MethodGet, url, h, nil) }

// pipAccept is pip's Accept header for index pages.
const pipAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"

func acceptHeader(a string) http.Header { return http.Header{"Accept": {a}} }

// jsonPageOut is a PEP 691 page as a client reads it.
type jsonPageOut struct {
	Meta struct {
		APIVersion string `json:"api-version"`
	} `json:"meta"`
	Name     string          `json:"name"`
	Versions []string        `json:"versions"`
	Files    []jsonFileCheck `json:"files"`
}

type jsonFileCheck struct {
	Filename         string            `json:"filename"`
	URL              string            `json:"url"`
	Hashes           map[string]string `json:"hashes"`
	RequiresPython   string            `json:"requires-python,omitempty"`
	CoreMetadata     any               `json:"core-metadata,omitempty"`
	DistInfoMetadata any               `json:"dist-info-metadata,omitempty"`
	Yanked           any               `json:"yanked"`
	Size             int64             `json:"size,omitempty"`
	UploadTime       string            `json:"upload-time,omitempty"`
}

// page fetches and decodes a project page in JSON.
func (e *env) page(repo, project string) *jsonPageOut {
	e.t.Helper()
	r := e.get(e.repo(repo)+"/simple/"+project+"/", acceptHeader(mediaJSON))
	if r.Status != http.StatusOK {
		e.t.Fatalf("page %s in %s: %d %s", project, repo, r.Status, r)
	}
	var pg jsonPageOut
	if err := json.Unmarshal(r.Body, &pg); err != nil {
		e.t.Fatalf("page %s: %v\n%s", project, err, r)
	}
	return &pg
}

// fileURL is where Stockpile serves a fixture file in a repository.
func (e *env) fileURL(repo string, d *dist) string {
	return e.repo(repo) + "/simple/" + d.Project + "/" + d.Version + "/" + d.Filename
}

// held reports whether a repository stores a version.
func (e *env) held(repo, project, version string) *formats.Version {
	e.t.Helper()
	r, err := e.in.Server.Registry().Repository("acme", repo)
	if err != nil {
		e.t.Fatal(err)
	}
	rec, err := e.in.Server.Resolver().VersionRecord(context.Background(), "acme", r.ID, pkg(project), version)
	if err != nil {
		e.t.Fatal(err)
	}
	if rec == nil {
		return nil
	}
	return &rec.Version
}

// uploadForm builds twine's multipart body for a distribution.
func uploadForm(d *dist, override map[string]string) (string, []byte) {
	fields := [][2]string{
		{":action", "file_upload"}, {"protocol_version", "1"},
		{"name", d.Spec.Name}, {"version", d.Spec.Version},
		{"filetype", map[bool]string{true: kindWheel, false: kindSdist}[d.Wheel]},
		{"pyversion", map[bool]string{true: "py3", false: "source"}[d.Wheel]},
		{"metadata_version", "2.1"}, {"summary", "fixture " + d.Spec.Mark},
		{"requires_python", d.Spec.RequiresPython},
		{"sha256_digest", d.SHA256}, {"md5_digest", md5Hex(d.Body)},
		{"description", ""}, {"author", ""},
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		v, ok := override[f[0]]
		if !ok {
			v = f[1]
		} else if v == "<omit>" {
			continue
		}
		mw.WriteField(f[0], v)
	}
	if override["content"] != "<omit>" {
		name := d.Filename
		if n, ok := override["filename"]; ok {
			name = n
		}
		body := d.Body
		if b, ok := override["content"]; ok {
			body = []byte(b)
		}
		w, _ := mw.CreateFormFile("content", name)
		w.Write(body)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// upload posts a distribution to a repository's upload URL.
func (e *env) upload(repo string, d *dist, override map[string]string) *response {
	e.t.Helper()
	ctype, body := uploadForm(d, override)
	return e.do(http.MethodPost, e.repo(repo)+"/", http.Header{"Content-Type": {ctype}}, bytes.NewReader(body))
}

func contains(r *response, s string) bool { return strings.Contains(string(r.Body), s) }
