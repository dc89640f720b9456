package npm

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

const acceptCorgi = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"

func TestPackumentRepresentations(t *testing.T) {
	e := newEnv(t, nil)
	full := e.get("app", "left-pad-lite", "Accept", "application/json").must(t, http.StatusOK)
	corgi := e.get("app", "left-pad-lite", "Accept", acceptCorgi).must(t, http.StatusOK)

	t.Run("headers", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			r    *result
			ct   string
		}{{"full", full, "application/json"}, {"corgi", corgi, "application/vnd.npm.install-v1+json"}} {
			if got := tc.r.header.Get("Content-Type"); got != tc.ct {
				t.Errorf("%s: Content-Type %q, want %q", tc.name, got, tc.ct)
			}
			if got := tc.r.header.Get("Vary"); got != "Accept, Accept-Encoding" {
				t.Errorf("%s: Vary %q", tc.name, got)
			}
			if got := tc.r.header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("%s: Cache-Control %q", tc.name, got)
			}
			if tc.r.header.Get("ETag") == "" {
				t.Errorf("%s: no ETag", tc.name)
			}
		}
		if full.header.Get("ETag") == corgi.header.Get("ETag") {
			t.Errorf("full and corgi share the ETag %s", full.header.Get("ETag"))
		}
	})

	t.Run("full relays version objects byte for byte but the tarball", func(t *testing.T) {
		var p packument
		full.json(t, &p)
		if p.Name != "left-pad-lite" || p.ID != "left-pad-lite" || !strings.HasPrefix(p.Readme, "# left-pad-lite") {
			t.Errorf("top level: name %q id %q readme %.20q", p.Name, p.ID, p.Readme)
		}
		if diff := cmp.Diff(map[string]string{"latest": "1.1.0", "beta": "2.0.0-beta.1"}, p.Tags); diff != "" {
			t.Errorf("dist-tags (-want +got):\n%s", diff)
		}
		up, err := parsePackument(pkgOf("left-pad-lite"), e.ups["left-pad-lite"])
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"1.0.0", "1.1.0", "2.0.0-beta.1"} {
			want := bytes.Replace(up.Versions[v].Meta, []byte(e.fake.URL+"/left-pad-lite/-/"), []byte(e.url("app", "left-pad-lite/-/")), 1)
			if !bytes.Equal(want, p.Versions[v]) {
				t.Errorf("version %s:\n got %s\nwant %s", v, p.Versions[v], want)
			}
			if p.Time[v] == "" {
				t.Errorf("time has no %s: %v", v, p.Time)
			}
		}
		if p.Time["created"] != "2024-01-01T00:00:00.000Z" || p.Time["modified"] != "2024-03-01T00:00:00.000Z" {
			t.Errorf("time created/modified: %v", p.Time)
		}
	})

	t.Run("corgi keeps install fields only", func(t *testing.T) {
		var c struct {
			Name     string                                `json:"name"`
			Modified string                                `json:"modified"`
			Tags     map[string]string                     `json:"dist-tags"`
			Versions map[string]map[string]json.RawMessage `json:"versions"`
			Time     any                                   `json:"time"`
			Readme   any                                   `json:"readme"`
		}
		corgi.json(t, &c)
		if c.Time != nil || c.Readme != nil || c.Modified != "2024-03-01T00:00:00.000Z" {
			t.Errorf("corgi top level: time %v readme %v modified %q", c.Time, c.Readme, c.Modified)
		}
		v := c.Versions["1.1.0"]
		for _, k := range []string{"name", "version", "dist", "engines", "hasInstallScript"} {
			if _, ok := v[k]; !ok {
				t.Errorf("corgi 1.1.0 lacks %s: %v", k, keys(v))
			}
		}
		for _, k := range []string{"scripts", "description", "_npmUser", "main", "keywords"} {
			if _, ok := v[k]; ok {
				t.Errorf("corgi 1.1.0 keeps %s", k)
			}
		}
		var dist struct{ Tarball, Integrity string }
		json.Unmarshal(v["dist"], &dist)
		if dist.Tarball != e.url("app", "left-pad-lite/-/left-pad-lite-1.1.0.tgz") || dist.Integrity != e.fx["left-pad-lite@1.1.0"].integrity {
			t.Errorf("corgi dist %+v", dist)
		}
	})

	t.Run("If-None-Match gives 304 with the same validators", func(t *testing.T) {
		etag := full.header.Get("ETag")
		r := e.get("app", "left-pad-lite", "Accept", "application/json", "If-None-Match", etag).must(t, http.StatusNotModified)
		if r.header.Get("ETag") != etag || r.header.Get("Vary") != "Accept, Accept-Encoding" || len(r.body) != 0 {
			t.Errorf("304: ETag %q Vary %q body %d bytes", r.header.Get("ETag"), r.header.Get("Vary"), len(r.body))
		}
		e.get("app", "left-pad-lite", "Accept", "application/json", "If-None-Match", `"other"`).must(t, http.StatusOK)
	})

	t.Run("gzip", func(t *testing.T) {
		r := e.get("app", "left-pad-lite", "Accept", "application/json", "Accept-Encoding", "gzip, deflate").must(t, http.StatusOK)
		if r.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q", r.header.Get("Content-Encoding"))
		}
		if plain, err := formattest.Gunzip(r.body); err != nil || !bytes.Equal(plain, full.body) {
			t.Errorf("gunzipped body differs from the identity body (%v)", err)
		}
		if r.header.Get("ETag") == full.header.Get("ETag") {
			t.Errorf("gzip and identity share the ETag")
		}
		e.get("app", "left-pad-lite", "Accept", "application/json", "Accept-Encoding", "gzip", "If-None-Match", r.header.Get("ETag")).must(t, http.StatusNotModified)
	})

	t.Run("abbreviated gzip: four representations, four validators", func(t *testing.T) {
		cz := e.get("app", "left-pad-lite", "Accept", acceptCorgi, "Accept-Encoding", "gzip").must(t, http.StatusOK)
		fz := e.get("app", "left-pad-lite", "Accept", "application/json", "Accept-Encoding", "gzip").must(t, http.StatusOK)
		if cz.header.Get("Content-Encoding") != "gzip" || cz.header.Get("Vary") != "Accept, Accept-Encoding" {
			t.Fatalf("abbreviated gzip: Content-Encoding %q, Vary %q", cz.header.Get("Content-Encoding"), cz.header.Get("Vary"))
		}
		if plain, err := formattest.Gunzip(cz.body); err != nil || !bytes.Equal(plain, corgi.body) {
			t.Errorf("gunzipped abbreviated packument differs from the identity one (%v)", err)
		}
		etags := map[string]string{}
		for name, r := range map[string]*result{"full": full, "corgi": corgi, "full gzip": fz, "corgi gzip": cz} {
			et := r.header.Get("ETag")
			if !strings.HasPrefix(et, `"`) {
				t.Errorf("%s: ETag %q is not strong", name, et)
			}
			if other, dup := etags[et]; dup {
				t.Errorf("%s and %s share the ETag %s", name, other, et)
			}
			etags[et] = name
		}
		e.get("app", "left-pad-lite", "Accept", acceptCorgi, "Accept-Encoding", "gzip", "If-None-Match", cz.header.Get("ETag")).must(t, http.StatusNotModified)
		e.get("app", "left-pad-lite", "Accept", acceptCorgi, "If-None-Match", corgi.header.Get("ETag")).must(t, http.StatusNotModified)
		// A validator of the other document is no match.
		e.get("app", "left-pad-lite", "Accept", acceptCorgi, "Accept-Encoding", "gzip", "If-None-Match", fz.header.Get("ETag")).must(t, http.StatusOK)
	})

	t.Run("HEAD", func(t *testing.T) {
		r := e.do(http.MethodHead, e.url("app", "left-pad-lite"), nil, "Accept", "application/json").must(t, http.StatusOK)
		if len(r.body) != 0 || r.header.Get("Content-Length") != itoa(len(full.body)) {
			t.Errorf("HEAD: %d body bytes, Content-Length %q, want 0 and %d", len(r.body), r.header.Get("Content-Length"), len(full.body))
		}
	})

	t.Run("version documents", func(t *testing.T) {
		for _, tc := range []struct{ spec, want string }{{"1.0.0", "1.0.0"}, {"beta", "2.0.0-beta.1"}, {"latest", "1.1.0"}} {
			var v versionDocT
			e.get("app", "left-pad-lite/"+tc.spec).must(t, http.StatusOK).json(t, &v)
			if v.Version != tc.want || v.Dist.Tarball != e.url("app", "left-pad-lite/-/left-pad-lite-"+tc.want+".tgz") {
				t.Errorf("%s: version %q tarball %q", tc.spec, v.Version, v.Dist.Tarball)
			}
		}
		e.get("app", "left-pad-lite/9.9.9").npmError(t, http.StatusNotFound)
	})

	t.Run("a forwarded https host gets URLs without the default port", func(t *testing.T) {
		// X-Forwarded-* count only from a trusted proxy.
		e := newEnvConfig(t, nil, upstream.Options{}, func(c *proxy.Config) { c.TrustedProxies = []string{"127.0.0.1"} })
		var p packument
		e.get("app", "left-pad-lite", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "npm.stockpile.example:443").must(t, http.StatusOK).json(t, &p)
		if got, want := p.version(t, "1.0.0").Dist.Tarball, "https://npm.stockpile.example/acme/npm/app/left-pad-lite/-/left-pad-lite-1.0.0.tgz"; got != want {
			t.Errorf("tarball %s, want %s", got, want)
		}
	})

	// One fetch, plus one revalidation before the 404 of 9.9.9.
	if n := e.fake.Hits("/left-pad-lite"); n != 2 {
		t.Errorf("upstream packument hits = %d, want 2 (cached)", n)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestScopedNameSpellings(t *testing.T) {
	e := newEnv(t, nil)
	var bodies [][]byte
	for _, spelling := range []string{"@acme%2futil", "@acme%2Futil", "@acme/util", "%40acme%2Futil"} {
		r := e.get("app", spelling, "Accept", "application/json").must(t, http.StatusOK)
		bodies = append(bodies, r.body)
	}
	for i := 1; i < len(bodies); i++ {
		if !bytes.Equal(bodies[0], bodies[i]) {
			t.Errorf("spelling %d gives another document", i)
		}
	}
	var p packument
	json.Unmarshal(bodies[0], &p)
	if p.Name != "@acme/util" || p.Tags["latest"] != "1.2.0" {
		t.Errorf("name %q tags %v", p.Name, p.Tags)
	}
	want := e.fx["@acme/util@1.0.0"].tgz
	if got := p.version(t, "1.0.0").Dist.Tarball; got != e.url("app", "@acme/util/-/util-1.0.0.tgz") {
		t.Errorf("tarball URL %s", got)
	}
	for _, path := range []string{"@acme/util/-/util-1.0.0.tgz", "@acme%2futil/-/util-1.0.0.tgz", "@acme%2Futil/-/util-1.0.0.tgz", "@acme/util/-/@acme/util-1.0.0.tgz"} {
		r := e.get("app", path).must(t, http.StatusOK)
		if !bytes.Equal(r.body, want) {
			t.Errorf("%s: wrong bytes", path)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
	}
	if n := e.fake.Hits(upstreamTarballPath("@acme/util", "1.0.0")); n != 1 {
		t.Errorf("upstream tarball hits = %d, want 1", n)
	}
}

func TestTarballCacheAndRetention(t *testing.T) {
	// Upstream documents go stale at once, so that the end of the test
	// proves stale-on-error rather than a fresh cache.
	e := newEnvWith(t, nil, upstream.Options{TTL: time.Nanosecond})
	f := e.fx["left-pad-lite@1.0.0"]
	path := tarballPath("left-pad-lite", "1.0.0")
	up := upstreamTarballPath("left-pad-lite", "1.0.0")

	r := e.get("app", path).must(t, http.StatusOK)
	if !bytes.Equal(r.body, f.tgz) {
		t.Fatal("first download: wrong bytes")
	}
	r = e.get("app", path).must(t, http.StatusOK)
	if !bytes.Equal(r.body, f.tgz) || e.fake.Hits(up) != 1 {
		t.Fatalf("second download: upstream hits %d, want 1", e.fake.Hits(up))
	}
	h := e.do(http.MethodHead, e.url("app", path), nil).must(t, http.StatusOK)
	if h.header.Get("Content-Length") != itoa(len(f.tgz)) || len(h.body) != 0 {
		t.Errorf("HEAD: Content-Length %q", h.header.Get("Content-Length"))
	}

	p := pkgOf("left-pad-lite")
	e.record("app", p, "1.0.0")
	e.record("npm-store", p, "1.0.0")
	for _, tc := range []struct {
		repo string
		want bool
	}{{"app", true}, {"npm-store", true}, {"team", false}, {"internal", false}} {
		rec := e.record(tc.repo, p, "1.0.0")
		if (rec != nil) != tc.want {
			t.Errorf("%s holds 1.0.0: %v, want %v", tc.repo, rec != nil, tc.want)
		}
		if rec != nil && (rec.Origin.Type != "EXTERNAL" || rec.Assets[0].Digests.SHA1 != f.shasum) {
			t.Errorf("%s record: origin %+v digests %+v", tc.repo, rec.Origin, rec.Assets[0].Digests)
		}
	}
	// team now serves it from npm-store without the upstream.
	e.get("team", path).must(t, http.StatusOK)
	if e.fake.Hits(up) != 1 {
		t.Errorf("download through team hit the upstream")
	}

	e.get("app", "left-pad-lite", "Accept", "application/json").must(t, http.StatusOK)
	hits := e.fake.Hits("/left-pad-lite")
	e.get("app", "left-pad-lite", "Accept", "application/json").must(t, http.StatusOK)
	if e.fake.Hits("/left-pad-lite") == hits {
		t.Fatal("a stale packument was not revalidated")
	}
	e.fake.Close()
	t.Run("upstream gone", func(t *testing.T) {
		for _, accept := range []string{"application/json", acceptCorgi} {
			var p packument
			e.get("app", "left-pad-lite", "Accept", accept).must(t, http.StatusOK).json(t, &p)
			if len(p.Versions) != 3 {
				t.Errorf("stale packument has versions %v", keys(p.Versions))
			}
		}
		if r := e.get("app", path).must(t, http.StatusOK); !bytes.Equal(r.body, f.tgz) {
			t.Error("cached tarball: wrong bytes")
		}
		e.get("app", tarballPath("left-pad-lite", "1.1.0")).npmError(t, http.StatusBadGateway)
	})
}

func TestTarballUpstreamFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault upstreamtest.Fault
	}{
		{"wrong digest", upstreamtest.Fault{Corrupt: true}},
		{"truncated body", upstreamtest.Fault{Truncate: 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			f := e.fx["left-pad-lite@1.0.0"]
			path := tarballPath("left-pad-lite", "1.0.0")
			up := upstreamTarballPath("left-pad-lite", "1.0.0")
			e.get("app", "left-pad-lite").must(t, http.StatusOK)

			// HEAD is not streamed: the failure is a clean 502.
			fault := tc.fault
			fault.Times = 1
			e.fake.Fault(up, fault)
			e.do(http.MethodHead, e.url("app", path), nil).must(t, http.StatusBadGateway)

			// GET streams while verifying; a failed transfer is cut short,
			// never delivered complete.
			// (A fresh connection: on a reused one Go's transport would
			// silently retry the GET after the cut.)
			e.fake.Fault(up, fault)
			r := e.doWith(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, http.MethodGet, e.url("app", path), nil)
			if r.readErr == nil && r.status == http.StatusOK && bytes.Equal(r.body, f.tgz) {
				t.Fatalf("a bad upstream transfer reached the client complete (upstream hits %d)", e.fake.Hits(up))
			}
			if r.readErr == nil && r.status != http.StatusBadGateway {
				t.Errorf("status %d, want 502 or a cut transfer", r.status)
			}
			for _, repo := range []string{"app", "npm-store", "team"} {
				if rec := e.record(repo, pkgOf("left-pad-lite"), "1.0.0"); rec != nil {
					t.Errorf("%s recorded the version after a failed fetch", repo)
				}
			}
			if r := e.get("app", path).must(t, http.StatusOK); !bytes.Equal(r.body, f.tgz) {
				t.Error("good fetch after the fault: wrong bytes")
			}
			if e.record("app", pkgOf("left-pad-lite"), "1.0.0") == nil {
				t.Error("good fetch was not retained")
			}
		})
	}
}

func TestColdPackumentUpstreamFailure(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		fault  upstreamtest.Fault
		status int
	}{
		{"500", upstreamtest.Fault{Status: http.StatusInternalServerError}, http.StatusBadGateway},
		{"429", upstreamtest.Fault{Status: http.StatusTooManyRequests}, http.StatusBadGateway},
		{"503 with a long Retry-After", upstreamtest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "3600"}, http.StatusBadGateway},
		{"connection reset", upstreamtest.Fault{Reset: true}, http.StatusBadGateway},
		{"401", upstreamtest.Fault{Status: http.StatusUnauthorized}, http.StatusBadGateway},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "cold-pkg-" + itoa(i)
			e.fake.Fault("/"+name, tc.fault)
			for _, accept := range []string{"application/json", acceptCorgi} {
				msg := e.get("app", name, "Accept", accept).npmError(t, tc.status)
				if !strings.Contains(msg, "upstream") {
					t.Errorf("message %q does not say the upstream failed", msg)
				}
			}
		})
	}
	t.Run("absent upstream is 404", func(t *testing.T) {
		e.get("app", "no-such-package").npmError(t, http.StatusNotFound)
		e.get("app", "@acme%2fno-such").npmError(t, http.StatusNotFound)
	})
}

func TestConcurrentColdTarball(t *testing.T) {
	e := newEnv(t, nil)
	f := e.fx["@acme/util@1.2.0"]
	up := upstreamTarballPath("@acme/util", "1.2.0")
	e.get("app", "@acme%2futil").must(t, http.StatusOK) // warm the metadata
	gate := make(chan struct{})
	e.fake.Fault(up, upstreamtest.Fault{Gate: gate})

	const n = 50
	waits := e.in.Events.Counts().FetchWaits
	results := make([]*result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.get("app", "@acme%2futil/-/util-1.2.0.tgz")
		}()
	}
	// Every client reaches the shared fetch before it ends.
	e.in.Events.Await(t, "every client waiting on the fetch", func(c proxytest.EventCounts) bool { return c.FetchWaits >= waits+n })
	close(gate)
	wg.Wait()
	want := sha256.Sum256(f.tgz)
	for i, r := range results {
		r.must(t, http.StatusOK)
		if sha256.Sum256(r.body) != want {
			t.Errorf("client %d got other bytes", i)
		}
	}
	if got := e.fake.Hits(up); got != 1 {
		t.Errorf("upstream tarball hits = %d, want 1", got)
	}
}
