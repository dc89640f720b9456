package maven_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/formats/maven"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

type response struct {
	code   int
	body   []byte
	header http.Header
}

// call sends one request; with a token it authenticates as mvn does (Basic,
// user aws, the token as password).
func (e *env) call(t testing.TB, method, url string, body []byte, header ...string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if e.token != "" && req.Header.Get("Authorization") == "" {
		req.SetBasicAuth("aws", e.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, b, resp.Header}
}

func (e *env) get(t testing.TB, url string, header ...string) response {
	t.Helper()
	return e.call(t, http.MethodGet, url, nil, header...)
}

func (e *env) put(t testing.TB, url string, body []byte) response {
	t.Helper()
	return e.call(t, http.MethodPut, url, body)
}

func expect(t testing.TB, what string, r response, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: %d %q, want %d", what, r.code, r.body, code)
	}
}

func hexSum(b []byte, algo string) string {
	switch algo {
	case "md5":
		s := md5.Sum(b)
		return hex.EncodeToString(s[:])
	case "sha1":
		s := sha1.Sum(b)
		return hex.EncodeToString(s[:])
	case "sha256":
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	s := sha512.Sum512(b)
	return hex.EncodeToString(s[:])
}

// held reports the status of a version in a repository, "" when absent.
func (e *env) held(t testing.TB, repo, group, artifact, version string) formats.Status {
	t.Helper()
	r, err := e.in.Server.Registry().Repository("acme", repo)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.in.Server.Resolver().VersionRecord(context.Background(), "acme", r.ID, formats.Package{Format: "maven", Namespace: group, Name: artifact}, version)
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil {
		return ""
	}
	return rec.Status
}

func TestMetadata(t *testing.T) {
	e := startEnv(t, envOptions{})
	app := e.url("app")
	e.central.metadata("com.example.proxytest", "widget-core", "20240101000000", "1.10.0", "1.2.0")
	e.google.metadata("com.example.proxytest", "widget-core", "20240412093015", "1.10.0", "2.0.0-RC1")
	e.central.metadata("com.example.proxytest", "snappy", "20240101000000", "1.0", "1.1-SNAPSHOT")
	e.central.Fake.Handle("/maven2/com/example/broken/lib/maven-metadata.xml", upstreamtest.Response{Body: []byte("<html><body>Service Unavailable</body></html>"), ContentType: "text/html"})
	e.central.plugins("org.example.plugins", map[string]string{"alpha": "alpha-maven-plugin", "shared": "shared-maven-plugin"})
	e.google.plugins("org.example.plugins", map[string]string{"beta": "beta-maven-plugin", "shared": "shared-maven-plugin"})

	t.Run("union of two connections in Maven order, with its own checksums", func(t *testing.T) {
		r := e.get(t, app+"com/example/proxytest/widget-core/maven-metadata.xml", "Cache-Control", "no-cache")
		expect(t, "metadata", r, 200)
		if diff := cmp.Diff(maven.FixtureArtifactMetadata, string(r.body)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		want := map[string]string{"sha1": "ce9a74125f3414bbd9cb1896c17c8e310731879a", "md5": "9ba0726c7b83fca7318e7026a3d221c7",
			"sha256": hexSum(r.body, "sha256"), "sha512": hexSum(r.body, "sha512")}
		for algo, sum := range want {
			c := e.get(t, app+"com/example/proxytest/widget-core/maven-metadata.xml."+algo)
			if c.code != 200 || string(c.body) != sum {
				t.Fatalf("%s: %d %q, want %s", algo, c.code, c.body, sum)
			}
		}
		if got := r.header.Get("X-Checksum-Sha1"); got != want["sha1"] {
			t.Fatalf("X-Checksum-Sha1 %q", got)
		}
		h := e.call(t, http.MethodHead, app+"com/example/proxytest/widget-core/maven-metadata.xml", nil)
		if h.code != 200 || len(h.body) != 0 || h.header.Get("ETag") != r.header.Get("ETag") {
			t.Fatalf("HEAD: %d %q %v", h.code, h.body, h.header)
		}
		nm := e.get(t, app+"com/example/proxytest/widget-core/maven-metadata.xml", "If-None-Match", r.header.Get("ETag"))
		expect(t, "conditional", nm, 304)
	})
	t.Run("gzip when asked, with its own validator", func(t *testing.T) {
		var versions []string
		for i := range 80 {
			versions = append(versions, fmt.Sprintf("1.%d.0", i))
		}
		e.central.metadata("com.example.proxytest", "many", "20240101000000", versions...)
		u := app + "com/example/proxytest/many/maven-metadata.xml"
		plain := e.get(t, u, "Accept-Encoding", "identity")
		expect(t, "identity", plain, 200)
		if len(plain.body) < 1024 || plain.header.Get("Content-Encoding") != "" {
			t.Fatalf("identity: %d bytes, Content-Encoding %q", len(plain.body), plain.header.Get("Content-Encoding"))
		}
		gz := e.get(t, u, "Accept-Encoding", "gzip")
		expect(t, "gzip", gz, 200)
		if gz.header.Get("Content-Encoding") != "gzip" || !strings.Contains(gz.header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("gzip: Content-Encoding %q, Vary %q", gz.header.Get("Content-Encoding"), gz.header.Get("Vary"))
		}
		if got, err := formattest.Gunzip(gz.body); err != nil || !bytes.Equal(got, plain.body) {
			t.Fatalf("the gzip body does not decode to the document (%v)", err)
		}
		if gz.header.Get("ETag") == plain.header.Get("ETag") || gz.header.Get("ETag") != formats.GzipETag(plain.header.Get("ETag")) {
			t.Fatalf("ETags: gzip %q, identity %q", gz.header.Get("ETag"), plain.header.Get("ETag"))
		}
		if gz.header.Get("X-Checksum-Sha1") != hexSum(plain.body, "sha1") {
			t.Fatalf("X-Checksum-Sha1 %q is not the document's", gz.header.Get("X-Checksum-Sha1"))
		}
		expect(t, "conditional gzip", e.get(t, u, "Accept-Encoding", "gzip", "If-None-Match", gz.header.Get("ETag")), 304)
		expect(t, "conditional identity", e.get(t, u, "Accept-Encoding", "identity", "If-None-Match", plain.header.Get("ETag")), 304)
		expect(t, "stale validator", e.get(t, u, "Accept-Encoding", "gzip", "If-None-Match", `"other"`), 200)
		rg := e.get(t, u, "Accept-Encoding", "gzip", "Range", "bytes=0-9")
		if rg.code != 206 || rg.header.Get("Content-Encoding") != "" || !bytes.Equal(rg.body, plain.body[:10]) {
			t.Fatalf("range: %d %q %q", rg.code, rg.header.Get("Content-Encoding"), rg.body)
		}
	})
	t.Run("snapshots of public connections are never offered", func(t *testing.T) {
		r := e.get(t, app+"com/example/proxytest/snappy/maven-metadata.xml")
		if r.code != 200 || strings.Contains(string(r.body), "SNAPSHOT") || !strings.Contains(string(r.body), "<version>1.0</version>") {
			t.Fatalf("%d %s", r.code, r.body)
		}
		before := e.central.Fake.Hits("/maven2/com/example/proxytest/snappy/1.1-SNAPSHOT/snappy-1.1-SNAPSHOT.jar")
		expect(t, "public snapshot file", e.get(t, app+"com/example/proxytest/snappy/1.1-SNAPSHOT/snappy-1.1-SNAPSHOT.jar"), 404)
		expect(t, "public snapshot build", e.get(t, app+"com/example/proxytest/snappy/1.1-SNAPSHOT/snappy-1.1-20240101.000000-1.jar"), 404)
		if n := e.central.Fake.Hits("/maven2/com/example/proxytest/snappy/1.1-SNAPSHOT/snappy-1.1-SNAPSHOT.jar"); n != before {
			t.Fatalf("the upstream was asked for a snapshot")
		}
	})
	t.Run("an upstream error page is never served as metadata", func(t *testing.T) {
		r := e.get(t, app+"com/example/broken/lib/maven-metadata.xml")
		if r.code != http.StatusBadGateway || strings.Contains(string(r.body), "Service Unavailable") {
			t.Fatalf("%d %q", r.code, r.body)
		}
	})
	t.Run("group-level plugin metadata is the union", func(t *testing.T) {
		r := e.get(t, app+"org/example/plugins/maven-metadata.xml")
		expect(t, "group metadata", r, 200)
		want := `<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <plugins>
    <plugin>
      <name>alpha plugin</name>
      <prefix>alpha</prefix>
      <artifactId>alpha-maven-plugin</artifactId>
    </plugin>
    <plugin>
      <name>beta plugin</name>
      <prefix>beta</prefix>
      <artifactId>beta-maven-plugin</artifactId>
    </plugin>
    <plugin>
      <name>shared plugin</name>
      <prefix>shared</prefix>
      <artifactId>shared-maven-plugin</artifactId>
    </plugin>
  </plugins>
</metadata>
`
		if diff := cmp.Diff(want, string(r.body)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		if c := e.get(t, app+"org/example/plugins/maven-metadata.xml.sha1"); string(c.body) != hexSum(r.body, "sha1") {
			t.Fatalf("sha1 %q", c.body)
		}
	})
	t.Run("absent everywhere is 404", func(t *testing.T) {
		expect(t, "metadata", e.get(t, app+"com/example/ghost/maven-metadata.xml"), 404)
		expect(t, "file", e.get(t, app+"com/example/ghost/1.0/ghost-1.0.pom"), 404)
		expect(t, "directory listing", e.get(t, app+"com/example/ghost/"), 404)
		expect(t, "prefixes", e.get(t, app+".meta/prefixes.txt"), 404)
	})
}

func TestFiles(t *testing.T) {
	e := startEnv(t, envOptions{})
	app := e.url("app")
	jar := jarOf(t, "util.txt", "util 1.0\n")
	e.central.artifact("com.example.lib", "util", "1.0", jar)
	jarPath := "com/example/lib/util/1.0/util-1.0.jar"

	t.Run("fetched once, retained, served whatever the client's no-cache", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			r := e.get(t, app+jarPath, "Cache-Control", "no-cache, no-store", "Pragma", "no-cache")
			if r.code != 200 || !bytes.Equal(r.body, jar) {
				t.Fatalf("jar: %d", r.code)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/java-archive" {
				t.Fatalf("Content-Type %q", ct)
			}
		}
		if n := e.central.Fake.Hits("/maven2/" + jarPath); n != 1 {
			t.Fatalf("upstream jar hits %d, want 1", n)
		}
		held := map[string]formats.Status{}
		for _, repo := range []string{"app", "team", "maven-store"} {
			held[repo] = e.held(t, repo, "com.example.lib", "util", "1.0")
		}
		if diff := cmp.Diff(map[string]formats.Status{"app": "Published", "team": "", "maven-store": "Published"}, held); diff != "" {
			t.Fatalf("retention (-want +got):\n%s", diff)
		}
	})
	t.Run("checksums of the stored bytes", func(t *testing.T) {
		for _, algo := range []string{"md5", "sha1", "sha256", "sha512"} {
			r := e.get(t, app+jarPath+"."+algo)
			if r.code != 200 || string(r.body) != hexSum(jar, algo) {
				t.Fatalf("%s: %d %q", algo, r.code, r.body)
			}
		}
		r := e.get(t, app+"com/example/lib/util/1.0/util-1.0.pom.sha1")
		if r.code != 200 || string(r.body) != hexSum(formattest.MavenPOM("com.example.lib", "util", "1.0"), "sha1") {
			t.Fatalf("pom sha1: %d %q", r.code, r.body)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		r := e.call(t, http.MethodHead, app+jarPath, nil)
		if r.code != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != itoa(len(jar)) {
			t.Fatalf("%d %v", r.code, r.header)
		}
	})
	t.Run("a file the upstream lacks is 404", func(t *testing.T) {
		expect(t, "sources", e.get(t, app+"com/example/lib/util/1.0/util-1.0-sources.jar"), 404)
		expect(t, "sources sha1", e.get(t, app+"com/example/lib/util/1.0/util-1.0-sources.jar.sha1"), 404)
		expect(t, "unknown version", e.get(t, app+"com/example/lib/util/9.9/util-9.9.jar"), 404)
	})
	t.Run("redirects are followed inside Stockpile", func(t *testing.T) {
		files := e.files
		rjar := jarOf(t, "r.txt", "redirected\n")
		files.artifact("com.example.lib", "moved", "2.0", rjar)
		e.central.metadata("com.example.lib", "moved", "20240101000000", "2.0")
		p := "com/example/lib/moved/2.0/moved-2.0.jar"
		e.central.redirect(p, files.Fake.URL)
		e.central.redirect(p+".sha1", files.Fake.URL)
		r := e.get(t, app+p)
		if r.code != 200 || !bytes.Equal(r.body, rjar) || r.header.Get("Location") != "" {
			t.Fatalf("%d %v", r.code, r.header)
		}
		if files.Fake.Hits("/maven2/"+p) != 1 || e.central.Fake.Hits("/maven2/"+p) != 1 {
			t.Fatalf("hits: file host %d, redirector %d", files.Fake.Hits("/maven2/"+p), e.central.Fake.Hits("/maven2/"+p))
		}
	})
	t.Run("bytes that disagree with the upstream sha1 are refused", func(t *testing.T) {
		e.central.artifact("com.example.lib", "tampered", "1.0", jarOf(t, "t.txt", "t\n"))
		p := "com/example/lib/tampered/1.0/tampered-1.0.jar"
		e.central.Fake.Handle("/maven2/"+p+".sha1", upstreamtest.Response{Body: []byte(strings.Repeat("0", 40))})
		// The client that started the fetch is streamed to: the transfer
		// is cut when the digest disagrees.
		for i := 0; i < 2; i++ {
			resp, err := http.Get(app + p)
			if err == nil {
				_, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && rerr == nil {
					t.Fatal("served whole")
				}
			}
		}
		if s := e.held(t, "app", "com.example.lib", "tampered", "1.0"); s != "" {
			t.Fatalf("retained as %s", s)
		}
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestStaleAndOffline(t *testing.T) {
	e := startEnv(t, envOptions{ttl: time.Millisecond})
	app := e.url("app")
	jar := jarOf(t, "o.txt", "offline\n")
	e.central.artifact("com.example.off", "lib", "1.0", jar)
	meta := e.get(t, app+"com/example/off/lib/maven-metadata.xml")
	expect(t, "metadata", meta, 200)
	expect(t, "jar", e.get(t, app+"com/example/off/lib/1.0/lib-1.0.jar"), 200)

	t.Run("stale on error", func(t *testing.T) {
		e.central.Fake.Fault("/maven2/com/example/off/lib/maven-metadata.xml", upstreamtest.Fault{Status: 503})
		e.in.Clock.Advance(5 * time.Millisecond)
		r := e.get(t, app+"com/example/off/lib/maven-metadata.xml")
		if r.code != 200 || !bytes.Equal(r.body, meta.body) {
			t.Fatalf("%d %s", r.code, r.body)
		}
		e.central.Fake.ClearFaults()
	})
	t.Run("upstream gone, server restarted", func(t *testing.T) {
		e.central.Fake.Close()
		e.google.Fake.Close()
		e.in.Restart()
		app := e.url("app")
		if r := e.get(t, app+"com/example/off/lib/1.0/lib-1.0.jar"); r.code != 200 || !bytes.Equal(r.body, jar) {
			t.Fatalf("jar: %d", r.code)
		}
		if r := e.get(t, app+"com/example/off/lib/1.0/lib-1.0.jar.sha1"); r.code != 200 || string(r.body) != hexSum(jar, "sha1") {
			t.Fatalf("sha1: %d %q", r.code, r.body)
		}
		if r := e.get(t, app+"com/example/off/lib/maven-metadata.xml"); r.code != 200 || !bytes.Equal(r.body, meta.body) {
			t.Fatalf("metadata: %d %s", r.code, r.body)
		}
		// Never fetched: an upstream failure, not a 404.
		expect(t, "uncached pom", e.get(t, app+"com/example/off/lib/1.0/lib-1.0.pom"), http.StatusBadGateway)
	})
}
