package maven_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/formats/maven"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// debianRepo is where Debian's libmaven-*-plugin-java packages install
// their Maven repository.
const debianRepo = "/usr/share/maven-repo"

// central is a fake Maven repository on loopback, rooted at /maven2/: files
// with generated .sha1 and .md5 sidecars, and artifact-level metadata
// generated for what it serves.
type central struct {
	Fake *upstreamtest.Server
	Root string // Fake.URL + "/maven2/"

	mu       sync.Mutex
	versions map[string]map[string]bool // "g/a/path" → versions
}

func newCentral(t testing.TB) *central {
	t.Helper()
	f := upstreamtest.New(t)
	return &central{Fake: f, Root: f.URL + "/maven2/", versions: map[string]map[string]bool{}}
}

// path is the fake's URL path of a repository path.
func (c *central) path(p string) string { return "/maven2/" + p }

// file serves body at p with its .sha1 and .md5 sidecars.
func (c *central) file(p string, body []byte) {
	for fp, b := range formattest.MavenFile(p, body) {
		r := upstreamtest.Response{Body: b, ContentType: "text/plain"}
		if fp == p {
			r.ContentType = ""
		}
		c.Fake.Handle(c.path(fp), r)
	}
}

// artifact serves a version's pom and jar (unless jar is nil) and
// regenerates the artifact's metadata.
func (c *central) artifact(group, artifact, version string, jar []byte) {
	dir := strings.ReplaceAll(group, ".", "/") + "/" + artifact
	c.file(dir+"/"+version+"/"+artifact+"-"+version+".pom", formattest.MavenPOM(group, artifact, version))
	if jar != nil {
		c.file(dir+"/"+version+"/"+artifact+"-"+version+".jar", jar)
	}
	c.mu.Lock()
	if c.versions[dir] == nil {
		c.versions[dir] = map[string]bool{}
	}
	c.versions[dir][version] = true
	vs := make([]string, 0, len(c.versions[dir]))
	for v := range c.versions[dir] {
		vs = append(vs, v)
	}
	c.mu.Unlock()
	c.metadata(group, artifact, "20240101000000", vs...)
}

// metadata serves artifact-level metadata listing versions (as given: the
// fake does not sort them, as some real repositories do not).
func (c *central) metadata(group, artifact, lastUpdated string, versions ...string) {
	c.file(strings.ReplaceAll(group, ".", "/")+"/"+artifact+"/maven-metadata.xml", formattest.MavenMetadata(group, artifact, lastUpdated, versions...))
}

// plugins serves group-level metadata mapping prefixes to plugins.
func (c *central) plugins(group string, prefixToArtifact map[string]string) {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <plugins>\n")
	prefixes := make([]string, 0, len(prefixToArtifact))
	for p := range prefixToArtifact {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	for _, p := range prefixes {
		fmt.Fprintf(&b, "    <plugin>\n      <name>%s plugin</name>\n      <prefix>%s</prefix>\n      <artifactId>%s</artifactId>\n    </plugin>\n", p, p, prefixToArtifact[p])
	}
	b.WriteString("  </plugins>\n</metadata>\n")
	c.file(strings.ReplaceAll(group, ".", "/")+"/maven-metadata.xml", []byte(b.String()))
}

// debian serves Debian's Maven repository: every file (symlinks followed),
// generated sidecars, artifact metadata listing each artifact's version
// directories, and the group-level metadata of org.apache.maven.plugins.
// It skips the test when the repository is not installed (CI installs it).
func (c *central) debian(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(debianRepo, "org/apache/maven/plugins/maven-compiler-plugin")); err != nil {
		if os.Getenv("STOCKPILE_E2E") == "require" {
			t.Fatalf("Debian's Maven plugins are required (STOCKPILE_E2E=require): %v", err)
		}
		t.Skip("Debian's Maven repository (libmaven-*-plugin-java) is not installed")
	}
	artifacts := map[string]map[string]bool{} // artifact dir → versions
	err := filepath.Walk(debianRepo, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		body, err := os.ReadFile(p) // follows symlinks
		if err != nil {
			return nil // a dangling link: not served
		}
		rel, _ := filepath.Rel(debianRepo, p)
		rel = filepath.ToSlash(rel)
		c.file(rel, body)
		parts := strings.Split(rel, "/")
		if len(parts) >= 4 {
			dir := strings.Join(parts[:len(parts)-2], "/")
			if artifacts[dir] == nil {
				artifacts[dir] = map[string]bool{}
			}
			artifacts[dir][parts[len(parts)-2]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	plugins := map[string]string{}
	for dir, vs := range artifacts {
		i := strings.LastIndexByte(dir, '/')
		group, artifact := strings.ReplaceAll(dir[:i], "/", "."), dir[i+1:]
		list := make([]string, 0, len(vs))
		for v := range vs {
			list = append(list, v)
		}
		sort.Strings(list)
		c.metadata(group, artifact, "20230112000000", list...)
		if group == "org.apache.maven.plugins" && strings.HasPrefix(artifact, "maven-") && strings.HasSuffix(artifact, "-plugin") {
			plugins[strings.TrimSuffix(strings.TrimPrefix(artifact, "maven-"), "-plugin")] = artifact
		}
	}
	c.plugins("org.apache.maven.plugins", plugins)
}

// redirect makes p answer 303 to the same path on target, as the Gradle
// plugin portal does for its files.
func (c *central) redirect(p, target string) {
	c.Fake.HandleFunc(c.path(p), func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+c.path(p), http.StatusSeeOther)
	})
}

// jarOf builds a small jar holding one text file.
func jarOf(t testing.TB, name, content string) []byte {
	t.Helper()
	return formattest.Zip(formattest.Text(name, content))
}

// env is a Stockpile with the CodeArtifact-style topology of the issue:
// app → [internal, team], team → [maven-store, google-store], the stores
// holding the external connections.
type env struct {
	in      *proxytest.Instance
	central *central
	google  *central
	files   *central // a file host central may redirect to (allowed_hosts)
	token   string
	// replicas: in is the front of several replicas, which do not restart
	replicas bool
}

type envOptions struct {
	auth bool
	ttl  time.Duration
	// configure, when set, edits the configuration before Stockpile starts.
	configure func(*proxy.Config)
	// replicas, when > 0, starts that many replicas on PostgreSQL and
	// SeaweedFS behind a load balancer.
	replicas int
}

func startEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{central: newCentral(t), google: newCentral(t), files: newCentral(t)}
	cfg := proxy.Defaults()
	cfg.Connections = map[string]upstream.Options{
		"public:maven-central": {URL: e.central.Root, TTL: o.ttl, Retries: 1,
			AllowedHosts: []string{strings.TrimPrefix(e.files.Fake.URL, "http://")}},
		"public:maven-googleandroid": {URL: e.google.Root, TTL: o.ttl, Retries: 1},
	}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"internal", "team"}},
		{Name: "team", Upstreams: []string{"maven-store", "google-store"}},
		{Name: "maven-store", ExternalConnection: "public:maven-central"},
		{Name: "google-store", ExternalConnection: "public:maven-googleandroid"},
		{Name: "internal"},
	}}}
	if o.auth {
		cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIDSTOCKPILETEST", Secret: "secret"}}
	}
	if o.configure != nil {
		o.configure(&cfg)
	}
	if o.replicas > 0 {
		e.in, _ = proxytest.StartReplicas(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{maven.New()}, OpenStore: engines.SharedStore(t)}, o.replicas)
		e.replicas = true
	} else {
		e.in = proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{maven.New()}, OnDisk: true})
	}
	if o.auth {
		e.token = e.in.Token("acme")
	}
	return e
}

// url is the endpoint of repository repo.
func (e *env) url(repo string) string { return e.in.URL + "/acme/maven/" + repo + "/" }
