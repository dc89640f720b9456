package rubygems

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// held reports whether a repository holds a version.
func (e *env) held(t *testing.T, repo, gem, key string) *formats.Version {
	t.Helper()
	r, err := e.in.Server.Registry().Repository("acme", repo)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.in.Server.Resolver().VersionRecord(context.Background(), "acme", r.ID, formats.Package{Format: "ruby", Name: gem}, key)
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil {
		return nil
	}
	return &rec.Version
}

// versionsLines returns the lines of a /versions body after its header.
func versionsLines(body []byte) []string {
	var out []string
	forEachLine(body, func(line, _ []byte) { out = append(out, string(line)) })
	return out
}

func TestCompactIndexMerge(t *testing.T) {
	e := startEnv(t, envOptions{ttl: time.Millisecond})
	secret := fixture(t, "acme-secret", "1.0.0")
	steps := []struct {
		name  string
		act   func(t *testing.T)
		check func(t *testing.T)
	}{
		{
			name: "a gem nothing holds is served with the upstream's bytes",
			check: func(t *testing.T) {
				r := e.get(t, e.url("app")+"info/demo_gem")
				checkValidators(t, "info", r)
				if want := e.src.info("demo_gem"); !bytes.Equal(r.body, want) {
					t.Errorf("info:\n%s\nwant the upstream's\n%s", r.body, want)
				}
				if got, want := r.header.Get("Content-Type"), "text/plain; charset=utf-8"; got != want {
					t.Errorf("Content-Type %s, want %s", got, want)
				}
			},
		},
		{
			name: "with nothing local /versions is the upstream's file",
			check: func(t *testing.T) {
				r := e.get(t, e.url("app")+"versions")
				checkValidators(t, "versions", r)
				if want := e.src.versions.Bytes(); !bytes.Equal(r.body, want) {
					t.Errorf("versions:\n%s\nwant\n%s", r.body, want)
				}
			},
		},
		{
			name: "a retained gem identical to the upstream's keeps the upstream's line",
			act: func(t *testing.T) {
				if r := e.get(t, e.url("app")+"gems/rack-lite-2.0.1.gem"); r.status != 200 {
					t.Fatalf("download: %d %s", r.status, r.body)
				}
			},
			check: func(t *testing.T) {
				if e.held(t, "app", "rack-lite", "2.0.1") == nil {
					t.Fatal("rack-lite 2.0.1 is not retained in app")
				}
				if r := e.get(t, e.url("app")+"versions"); !bytes.Equal(r.body, e.src.versions.Bytes()) {
					t.Errorf("versions changed:\n%s", r.body)
				}
				e.checkSelfConsistent(t, "app")
			},
		},
		{
			name: "an internal gem hides the public versions and gets its own line",
			act: func(t *testing.T) {
				if r := e.push(t, "internal", secret); r.status != 200 {
					t.Fatalf("push: %d %s", r.status, r.body)
				}
			},
			check: func(t *testing.T) {
				info := e.get(t, e.url("app")+"info/acme-secret")
				if want := "---\n" + secret.line + "\n"; string(info.body) != want {
					t.Errorf("info:\n%s\nwant\n%s", info.body, want)
				}
				v := e.checkSelfConsistent(t, "app")
				lines := versionsLines(v)
				if want := "acme-secret 1.0.0 " + md5hex(info.body); lines[0] != want {
					t.Errorf("first line %q, want %q", lines[0], want)
				}
				for _, l := range lines[1:] {
					if strings.HasPrefix(l, "acme-secret ") {
						t.Errorf("the upstream's line is still there: %q", l)
					}
				}
				// team does not reach internal: the public gem is its.
				if r := e.get(t, e.url("team")+"info/acme-secret"); !bytes.Equal(r.body, e.src.info("acme-secret")) {
					t.Errorf("team's info:\n%s", r.body)
				}
				e.checkSelfConsistent(t, "team")
				e.checkSelfConsistent(t, "ruby-store")
				if v := e.checkSelfConsistent(t, "internal"); !strings.HasPrefix(string(v), versionsHeader) || len(versionsLines(v)) != 1 {
					t.Errorf("internal's versions:\n%s", v)
				}
			},
		},
		{
			name: "a retained version the upstream yanks leaves the index and stays downloadable",
			act: func(t *testing.T) {
				e.src.yank(fixture(t, "rack-lite", "2.0.1"))
				e.in.Clock.Advance(5 * time.Millisecond) // past the connection's TTL
			},
			check: func(t *testing.T) {
				info := e.get(t, e.url("app")+"info/rack-lite")
				if want := e.src.info("rack-lite"); !bytes.Equal(info.body, want) {
					t.Errorf("info:\n%s\nwant the upstream's\n%s", info.body, want)
				}
				if v := e.checkSelfConsistent(t, "app"); !strings.HasSuffix(string(v), "rack-lite -2.0.1 "+md5hex(info.body)+"\n") {
					t.Errorf("versions does not end with the upstream's yank:\n%s", v)
				}
				if r := e.get(t, e.url("app")+"gems/rack-lite-2.0.1.gem"); r.status != 200 || !bytes.Equal(r.body, fixture(t, "rack-lite", "2.0.1").body) {
					t.Errorf("the retained gem: %d", r.status)
				}
			},
		},
		{
			name: "/names merges the upstream's and the local gems",
			check: func(t *testing.T) {
				r := e.get(t, e.url("internal")+"names")
				checkValidators(t, "internal names", r)
				if string(r.body) != "---\nacme-secret\n" {
					t.Errorf("internal names %q", r.body)
				}
				r = e.get(t, e.url("app")+"names")
				checkValidators(t, "app names", r)
				if want := "---\nacme-secret\ndemo_gem\nrack-lite\n"; string(r.body) != want {
					t.Errorf("app names %q, want %q", r.body, want)
				}
			},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.act != nil {
				st.act(t)
			}
			st.check(t)
		})
	}
}

func TestRangeRequests(t *testing.T) {
	e := startEnv(t, envOptions{ttl: time.Millisecond})
	if r := e.push(t, "internal", fixture(t, "acme-secret", "1.0.0")); r.status != 200 {
		t.Fatalf("push: %d %s", r.status, r.body)
	}
	for _, path := range []string{"versions", "info/demo_gem", "info/acme-secret", "names"} {
		full := e.get(t, e.url("app")+path)
		checkValidators(t, path, full)
		size := len(full.body)
		etag := full.header.Get("ETag")
		tests := []struct {
			name         string
			header       http.Header
			status       int
			body         string
			contentRange string
		}{
			{"the last byte, as Bundler asks with a changed ETag", http.Header{"Range": {fmt.Sprintf("bytes=%d-", size-1)}, "If-None-Match": {`"0"`}}, 206, string(full.body[size-1:]), fmt.Sprintf("bytes %d-%d/%d", size-1, size-1, size)},
			{"from the middle", http.Header{"Range": {fmt.Sprintf("bytes=%d-", size/2)}}, 206, string(full.body[size/2:]), fmt.Sprintf("bytes %d-%d/%d", size/2, size-1, size)},
			{"past the end", http.Header{"Range": {fmt.Sprintf("bytes=%d-", size)}}, 416, "", fmt.Sprintf("bytes */%d", size)},
			{"unchanged", http.Header{"Range": {fmt.Sprintf("bytes=%d-", size-1)}, "If-None-Match": {etag}}, 304, "", ""},
		}
		for _, tc := range tests {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				r := e.do(t, http.MethodGet, e.url("app")+path, tc.header, nil)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				if tc.status == 206 && string(r.body) != tc.body {
					t.Errorf("body %q, want %q", r.body, tc.body)
				}
				if got := r.header.Get("Content-Range"); got != tc.contentRange {
					t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
				}
				if tc.status == 206 {
					if got := r.header.Get("ETag"); got != etag {
						t.Errorf("a partial answer's ETag %s is not the whole file's %s", got, etag)
					}
					if got, want := r.header.Get("Repr-Digest"), reprDigest(full.body); got != want {
						t.Errorf("a partial answer's Repr-Digest %s is not the whole file's %s", got, want)
					}
				}
			})
		}
	}

	// Bundler's update: the upstream appends a gem; a client holding the
	// file asks from its last byte and gets exactly the appended bytes.
	t.Run("an upstream append reaches the client as an append", func(t *testing.T) {
		held := e.get(t, e.url("app")+"versions")
		e.src.publish(fixture(t, "acme-secret", "1.1.0")) // appends "acme-secret 1.1.0 md5" upstream
		// acme-secret is internal here: its upstream lines are left out;
		// append another public gem too.
		g := *fixture(t, "rack-lite", "2.0.0")
		g.fixtureGem.name, g.file = "zz-public", "zz-public-2.0.0.gem"
		e.src.publish(&g)
		e.in.Clock.Advance(5 * time.Millisecond)
		r := e.do(t, http.MethodGet, e.url("app")+"versions", http.Header{
			"Range": {fmt.Sprintf("bytes=%d-", len(held.body)-1)}, "If-None-Match": {held.header.Get("ETag")},
		}, nil)
		if r.status != 206 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if r.body[0] != held.body[len(held.body)-1] {
			t.Fatalf("the overlapping byte differs")
		}
		appended := append(append([]byte(nil), held.body...), r.body[1:]...)
		if got := `"` + md5hex(appended) + `"`; got != r.header.Get("ETag") {
			t.Errorf("after appending, MD5 %s, ETag %s; appended %q", got, r.header.Get("ETag"), r.body[1:])
		}
		if got := reprDigest(appended); got != r.header.Get("Repr-Digest") {
			t.Errorf("after appending, digest %s, Repr-Digest %s", got, r.header.Get("Repr-Digest"))
		}
		if !strings.Contains(string(r.body), "zz-public 2.0.0 ") || strings.Contains(string(r.body), "acme-secret") {
			t.Errorf("appended bytes %q", r.body)
		}
	})
}

func TestRetention(t *testing.T) {
	e := startEnv(t, envOptions{})
	g := fixture(t, "rack-lite", "2.0.1-x86_64-linux")
	for i := 0; i < 2; i++ {
		r := e.get(t, e.url("app")+"gems/"+g.file)
		if r.status != 200 || !bytes.Equal(r.body, g.body) {
			t.Fatalf("download %d: %d", i, r.status)
		}
		if got := r.header.Get("X-Checksum-Sha256"); got != g.sha {
			t.Errorf("X-Checksum-Sha256 %s, want %s", got, g.sha)
		}
	}
	if n := e.src.Fake.Hits("/gems/" + g.file); n != 1 {
		t.Errorf("upstream hits for the gem: %d, want 1", n)
	}
	got := map[string]bool{}
	for _, repo := range []string{"app", "team", "ruby-store", "internal"} {
		got[repo] = e.held(t, repo, "rack-lite", "2.0.1-x86_64-linux") != nil
	}
	if diff := cmp.Diff(map[string]bool{"app": true, "team": false, "ruby-store": true, "internal": false}, got); diff != "" {
		t.Errorf("retention (-want +got):\n%s", diff)
	}
	// The platform gem is its own version: the ruby one was not retained.
	if e.held(t, "app", "rack-lite", "2.0.1") != nil {
		t.Error("the ruby-platform 2.0.1 was retained with the platform gem")
	}
	// Quick gemspecs: the upstream's bytes, fetched once.
	quick := "quick/Marshal.4.8/rack-lite-2.0.1-x86_64-linux.gemspec.rz"
	for i := 0; i < 2; i++ {
		if r := e.get(t, e.url("team")+quick); r.status != 200 || !bytes.Equal(r.body, g.quick) {
			t.Fatalf("quick %d: %d", i, r.status)
		}
	}
	if n := e.src.Fake.Hits("/" + quick); n != 1 {
		t.Errorf("upstream hits for the quick gemspec: %d, want 1", n)
	}
}

func TestDownloads(t *testing.T) {
	e := startEnv(t, envOptions{auth: true})
	for _, f := range fixtureSet {
		g := fixture(t, f.name, versionKey(f.version, f.platform))
		t.Run(g.file, func(t *testing.T) {
			if r := e.get(t, e.url("app")+"gems/"+g.file); r.status != 200 || !bytes.Equal(r.body, g.body) {
				t.Errorf("gem: %d", r.status)
			}
			spec := "quick/Marshal.4.8/" + strings.TrimSuffix(g.file, ".gem") + ".gemspec.rz"
			if r := e.get(t, e.url("app")+spec); r.status != 200 || !bytes.Equal(r.body, g.quick) {
				t.Errorf("quick gemspec: %d", r.status)
			}
		})
	}
	tests := []struct {
		name   string
		path   string
		status int
	}{
		{"unknown gem", "gems/nope-1.0.0.gem", 404},
		{"unknown version", "gems/demo_gem-7.0.0.gem", 404},
		{"not a gem file name", "gems/demo_gem.gem", 404},
		{"unknown gem info", "info/nope", 404},
		{"bad gem name", "info/..", 404},
		{"unknown quick gemspec", "quick/Marshal.4.8/nope-1.0.0.gemspec.rz", 404},
		{"the retired dependency API", "api/v1/dependencies?gems=demo_gem", 404},
		{"no such endpoint", "api/v2/whatever", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(t, e.url("app")+tc.path)
			if r.status != tc.status {
				t.Errorf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("error Content-Type %q", ct)
			}
		})
	}
	t.Run("corrupted upstream bytes are refused and not kept", func(t *testing.T) {
		g := fixture(t, "demo_gem", "0.9.0")
		e2 := startEnv(t, envOptions{})
		e2.src.Fake.Fault("/gems/"+g.file, upstreamtest.Fault{Corrupt: true, Times: 1})
		if r := e2.get(t, e2.url("app")+"gems/"+g.file); r.status != http.StatusBadGateway || !strings.Contains(string(r.body), "the metadata declares "+g.sha) {
			t.Fatalf("corrupted: %d %s", r.status, r.body)
		}
		if r := e2.get(t, e2.url("app")+"gems/"+g.file); r.status != 200 || !bytes.Equal(r.body, g.body) {
			t.Fatalf("after the fault: %d", r.status)
		}
	})
}

func TestDependencyConfusionGuard(t *testing.T) {
	e := startEnv(t, envOptions{})
	if r := e.push(t, "internal", fixture(t, "acme-secret", "1.0.0")); r.status != 200 {
		t.Fatalf("push: %d %s", r.status, r.body)
	}
	tests := []struct {
		name   string
		method string
		path   string
		gem    *builtGem
		status int
		body   string
	}{
		{"the public version of an internal name is not served", http.MethodGet, "/acme/ruby/app/gems/acme-secret-2.0.0.gem", nil, 404, ""},
		{"nor its quick gemspec", http.MethodGet, "/acme/ruby/app/quick/Marshal.4.8/acme-secret-2.0.0.gemspec.rz", nil, 404, ""},
		{"the internal one is", http.MethodGet, "/acme/ruby/app/gems/acme-secret-1.0.0.gem", nil, 200, ""},
		{"a repository not reaching internal serves the public one", http.MethodGet, "/acme/ruby/team/gems/acme-secret-2.0.0.gem", nil, 200, ""},
		{"publishing a version the upstream serves is a conflict", http.MethodPost, "/acme/ruby/app/api/v1/gems", fixture(t, "demo_gem", "1.0.0"), 409, "already available from upstream"},
		{"publishing an existing version is a conflict", http.MethodPost, "/acme/ruby/internal/api/v1/gems", fixture(t, "acme-secret", "1.0.0"), 409, "already exists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.gem != nil {
				body = tc.gem.body
			}
			r := e.do(t, tc.method, e.in.URL+tc.path, nil, body)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.body) {
				t.Errorf("%d %q, want %d containing %q", r.status, r.body, tc.status, tc.body)
			}
		})
	}
}

func TestStaleOnErrorAndOffline(t *testing.T) {
	e := startEnv(t, envOptions{ttl: time.Millisecond})
	g := fixture(t, "demo_gem", "1.0.0")
	warm := map[string][]byte{}
	for _, p := range []string{"versions", "names", "info/demo_gem", "info/rack-lite", "gems/" + g.file} {
		r := e.get(t, e.url("app")+p)
		if r.status != 200 {
			t.Fatalf("warm-up %s: %d", p, r.status)
		}
		warm[p] = r.body
	}
	t.Run("the upstream failing: stale documents", func(t *testing.T) {
		e.src.Fake.Fault("*", upstreamtest.Fault{Status: 503})
		e.in.Clock.Advance(5 * time.Millisecond)
		for _, p := range []string{"versions", "info/demo_gem"} {
			if r := e.get(t, e.url("app")+p); r.status != 200 || !bytes.Equal(r.body, warm[p]) {
				t.Errorf("%s: %d", p, r.status)
			}
		}
		if r := e.get(t, e.url("app")+"gems/rack-lite-2.0.0.gem"); r.status != http.StatusBadGateway {
			t.Errorf("an uncached gem with the upstream failing: %d, want 502", r.status)
		}
		e.src.Fake.ClearFaults()
	})
	e.src.Fake.Close()
	e.in.Restart()
	tests := []struct {
		name   string
		path   string
		status int
		want   []byte
	}{
		{"versions", "versions", 200, warm["versions"]},
		{"names", "names", 200, warm["names"]},
		{"info", "info/demo_gem", 200, warm["info/demo_gem"]},
		{"a kept gem", "gems/" + g.file, 200, g.body},
		{"a gem never fetched: an upstream error, not a 404", "gems/rack-lite-2.0.0.gem", 502, nil},
		{"the legacy index", "specs.4.8.gz", 200, nil},
	}
	for _, tc := range tests {
		t.Run("offline/"+tc.name, func(t *testing.T) {
			r := e.get(t, e.url("app")+tc.path)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.want != nil && !bytes.Equal(r.body, tc.want) {
				t.Errorf("body differs from the warm one")
			}
		})
	}
	t.Run("offline/a kept gem's quick gemspec is generated from the .gem", func(t *testing.T) {
		r := e.get(t, e.url("app")+"quick/Marshal.4.8/demo_gem-1.0.0.gemspec.rz")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if got, want := inflate(t, r.body), inflate(t, g.quick); !bytes.Equal(got, want) {
			t.Errorf("generated gemspec differs from Ruby's")
		}
	})
}

// synthGem builds a .gem in Go for the refusals gem build cannot make.
type synthGem struct {
	metadata  string // YAML; "" leaves metadata.gz out
	noData    bool
	checksums string // checksums.yaml content, "" for none
}

func (s synthGem) bytes(t *testing.T) []byte {
	t.Helper()
	gz := formattest.Gzip
	var data bytes.Buffer
	tw := tar.NewWriter(&data)
	tw.Close()
	var out bytes.Buffer
	tw = tar.NewWriter(&out)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	if s.metadata != "" {
		add("metadata.gz", gz([]byte(s.metadata)))
	}
	if !s.noData {
		add("data.tar.gz", gz(data.Bytes()))
	}
	if s.checksums != "" {
		add("checksums.yaml.gz", gz([]byte(s.checksums)))
	}
	tw.Close()
	return out.Bytes()
}

func specYAML(name, version string) string {
	return "--- !ruby/object:Gem::Specification\nname: " + name + "\nversion: !ruby/object:Gem::Version\n  version: " + version +
		"\nplatform: ruby\nauthors:\n- x\ndate: 2024-01-01 00:00:00.000000000 Z\ndependencies: []\nrubygems_version: 3.3.15\nspecification_version: 4\nsummary: x\n"
}

func TestPushValidation(t *testing.T) {
	e := startEnv(t, envOptions{format: NewWithOptions(Options{MaxGemSize: 64 << 10})})
	if r := e.push(t, "internal", fixture(t, "acme-secret", "1.0.0")); r.status != 200 {
		t.Fatalf("push: %d %s", r.status, r.body)
	}
	tests := []struct {
		name   string
		body   []byte
		status int
		msg    string
	}{
		{"not a tar", []byte("hello, world"), 400, "not a tar"},
		{"no metadata.gz", synthGem{}.bytes(t), 400, "no metadata.gz"},
		{"no data.tar.gz", synthGem{metadata: specYAML("good", "1.0.0"), noData: true}.bytes(t), 400, "no data.tar.gz"},
		{"metadata is not a gemspec", synthGem{metadata: "- a\n- b\n"}.bytes(t), 400, "not a gem specification"},
		{"a name starting with an underscore", synthGem{metadata: specYAML("_hidden", "1.0.0")}.bytes(t), 400, "must not begin"},
		{"a name with a slash", synthGem{metadata: specYAML("a/b", "1.0.0")}.bytes(t), 400, "not a gem name"},
		{"a version with a dash", synthGem{metadata: specYAML("good", "1.0-1")}.bytes(t), 400, "not a canonical gem version"},
		{"checksums that do not match", synthGem{metadata: specYAML("good", "1.0.0"), checksums: "---\nSHA256:\n  metadata.gz: 00\n"}.bytes(t), 400, "does not match"},
		{"too large", bytes.Repeat([]byte("x"), 65<<10), 413, "larger than"},
		{"a case variant of an existing gem", synthGem{metadata: specYAML("ACME-Secret", "3.0.0")}.bytes(t), 409, "only by case"},
		{"an existing version", fixture(t, "acme-secret", "1.0.0").body, 409, "already exists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, http.MethodPost, e.in.URL+"/acme/ruby/internal/api/v1/gems", http.Header{"Content-Type": {"application/octet-stream"}}, tc.body)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.msg) {
				t.Errorf("%d %q, want %d containing %q", r.status, r.body, tc.status, tc.msg)
			}
		})
	}
	t.Run("a synthetic gem is accepted and indexed at once", func(t *testing.T) {
		body := synthGem{metadata: specYAML("good", "1.0.0")}.bytes(t)
		if r := e.do(t, http.MethodPost, e.in.URL+"/acme/ruby/internal//api/v1/gems", nil, body); r.status != 200 || string(r.body) != "Successfully registered gem: good (1.0.0)" {
			t.Fatalf("%d %q", r.status, r.body)
		}
		sum := sha256.Sum256(body)
		if r := e.get(t, e.url("app")+"info/good"); string(r.body) != "---\n1.0.0 |checksum:"+hex.EncodeToString(sum[:])+"\n" {
			t.Errorf("info %q", r.body)
		}
	})
}

func TestYank(t *testing.T) {
	e := startEnv(t, envOptions{auth: true})
	for _, k := range []string{"1.0.0", "1.1.0"} {
		if r := e.push(t, "internal", fixture(t, "acme-secret", k)); r.status != 200 {
			t.Fatalf("push %s: %d %s", k, r.status, r.body)
		}
	}
	yank := func(repo, form string) response {
		return e.do(t, http.MethodDelete, e.url(repo)+"api/v1/gems/yank", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form))
	}
	tests := []struct {
		name   string
		repo   string
		form   string
		status int
		body   string
	}{
		{"a version the repository holds", "internal", "gem_name=acme-secret&version=1.1.0", 200, "Successfully deleted gem: acme-secret (1.1.0)"},
		{"again", "internal", "gem_name=acme-secret&version=1.1.0", 200, "Successfully deleted gem"},
		{"through a repository that does not hold it", "app", "gem_name=acme-secret&version=1.0.0", 404, "not in repository app"},
		{"an unknown version", "internal", "gem_name=acme-secret&version=9.9.9", 404, "not in repository internal"},
		{"an unknown platform", "internal", "gem_name=acme-secret&version=1.0.0&platform=java", 404, "not in repository"},
		{"no version", "internal", "gem_name=acme-secret", 400, "not a gem version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := yank(tc.repo, tc.form)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.body) {
				t.Errorf("%d %q, want %d containing %q", r.status, r.body, tc.status, tc.body)
			}
		})
	}
	t.Run("the yanked version leaves the index but stays downloadable", func(t *testing.T) {
		for _, repo := range []string{"internal", "app"} {
			info := e.get(t, e.url(repo)+"info/acme-secret")
			if keys := infoKeys(info.body); !cmp.Equal(keys, []string{"1.0.0"}) {
				t.Errorf("%s info lists %v", repo, keys)
			}
			e.checkSelfConsistent(t, repo)
			if r := e.get(t, e.url(repo)+"gems/acme-secret-1.1.0.gem"); r.status != 200 {
				t.Errorf("%s: the yanked gem by its file name: %d", repo, r.status)
			}
		}
		if v := e.held(t, "internal", "acme-secret", "1.1.0"); v == nil || v.Status != formats.StatusUnlisted {
			t.Errorf("status %+v, want Unlisted", v)
		}
	})
}

func TestHTTPEdges(t *testing.T) {
	e := startEnv(t, envOptions{auth: true})
	e.push(t, "internal", fixture(t, "acme-secret", "1.0.0"))
	for _, p := range []string{"", "versions", "names", "info/demo_gem", "gems/demo_gem-1.0.0.gem", "quick/Marshal.4.8/demo_gem-1.0.0.gemspec.rz", "specs.4.8.gz", "latest_specs.4.8.gz", "prerelease_specs.4.8.gz"} {
		t.Run("HEAD /"+p, func(t *testing.T) {
			g := e.get(t, e.url("app")+p)
			h := e.do(t, http.MethodHead, e.url("app")+p, nil, nil)
			if g.status != 200 || h.status != 200 || len(h.body) != 0 {
				t.Fatalf("GET %d, HEAD %d with %d bytes", g.status, h.status, len(h.body))
			}
			for _, k := range []string{"ETag", "Repr-Digest", "Content-Type", "Content-Length"} {
				if g.header.Get(k) != h.header.Get(k) {
					t.Errorf("%s: GET %q, HEAD %q", k, g.header.Get(k), h.header.Get(k))
				}
			}
		})
	}
	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		status int
	}{
		{"no credentials", http.MethodGet, "versions", http.Header{"Authorization": {"Bearer nope"}}, 401},
		{"Basic credentials, as Bundler sends them", http.MethodGet, "versions", http.Header{"Authorization": {"Basic " + basic("aws", e.token)}}, 200},
		{"the raw key, as gem push sends it", http.MethodGet, "versions", http.Header{"Authorization": {e.token}}, 200},
		{"push with GET", http.MethodGet, "api/v1/gems", nil, 405},
		{"yank with POST", http.MethodPost, "api/v1/gems/yank", nil, 405},
		{"PUT on the index", http.MethodPut, "versions", nil, 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, e.url("app")+tc.path, tc.header, nil)
			if r.status != tc.status {
				t.Errorf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 401 && len(r.header.Values("WWW-Authenticate")) == 0 {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestLegacySpecsServed(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.push(t, "internal", fixture(t, "acme-secret", "1.0.0"))
	tests := []struct {
		kind string
		want string
	}{
		{specsAll, `[["acme-secret", "1.0.0", "ruby"], ["demo_gem", "0.9.0", "ruby"], ["demo_gem", "1.0.0", "ruby"], ["rack-lite", "2.0.0", "ruby"], ["rack-lite", "2.0.1", "ruby"], ["rack-lite", "2.0.1", "x86_64-linux"]]`},
		{specsLatest, `[["acme-secret", "1.0.0", "ruby"], ["demo_gem", "1.0.0", "ruby"], ["rack-lite", "2.0.1", "ruby"], ["rack-lite", "2.0.1", "x86_64-linux"]]`},
		{specsPrerelease, `[["demo_gem", "1.1.0.pre.1", "ruby"]]`},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			r := e.get(t, e.url("app")+tc.kind)
			checkValidators(t, tc.kind, r)
			path := filepath.Join(t.TempDir(), tc.kind)
			os.WriteFile(path, r.body, 0o644)
			out, err := exec.Command("ruby", "-rzlib", "-e", `p Marshal.load(Zlib::GzipReader.open(ARGV[0], &:read)).map { |n, v, p| [n, v.to_s, p] }`, path).CombinedOutput()
			if err != nil {
				t.Fatalf("ruby: %v\n%s", err, out)
			}
			if diff := cmp.Diff(tc.want, strings.TrimSpace(string(out))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Control-plane operations with --format ruby.
func TestControlPlane(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.push(t, "internal", fixture(t, "acme-secret", "1.0.0"))
	q := "?domain=acme&repository=internal&format=ruby&package=acme-secret"
	call := func(method, path string, body string) map[string]any {
		t.Helper()
		r := e.do(t, method, e.in.URL+"/v1/"+path, http.Header{"Content-Type": {"application/json"}}, []byte(body))
		if r.status != 200 {
			t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
		}
		var out map[string]any
		json.Unmarshal(r.body, &out)
		return out
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   string
	}{
		{"list packages", http.MethodPost, "packages?domain=acme&repository=internal&format=ruby", "", `"acme-secret"`},
		{"describe a version", http.MethodGet, "package/version" + q + "&version=1.0.0", "", `"https://example.invalid/acme-secret"`},
		{"its dependencies", http.MethodPost, "package/version/dependencies" + q + "&version=1.0.0", "", `"rack-lite"`},
		{"its assets", http.MethodPost, "package/version/assets" + q + "&version=1.0.0", "", `"acme-secret-1.0.0.gemspec.rz"`},
		{"unlist it", http.MethodPost, "package/versions/update_status" + q, `{"versions":["1.0.0"],"targetStatus":"Unlisted"}`, `"successfulVersions"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := json.Marshal(call(tc.method, tc.path, tc.body))
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("%s", out)
			}
		})
	}
	if r := e.get(t, e.url("internal")+"info/acme-secret"); string(r.body) != "---\n" {
		t.Errorf("after update_status the info is %q", r.body)
	}
}

// Many clients at once on a cold repository: one upstream fetch each.
func TestConcurrentColdRequests(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.push(t, "internal", fixture(t, "acme-secret", "1.0.0"))
	g := fixture(t, "demo_gem", "1.0.0")
	paths := []string{"versions", "names", "info/demo_gem", "gems/" + g.file}
	const clients = 12
	errs := make(chan error, clients*len(paths))
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		for _, p := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Get(e.url("app") + p)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("%s: %d", p, resp.StatusCode)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, p := range []string{"/versions", "/names", "/info/demo_gem", "/gems/" + g.file} {
		if n := e.src.Fake.Hits(p); n != 1 {
			t.Errorf("upstream hits for %s: %d, want 1", p, n)
		}
	}
	e.checkSelfConsistent(t, "app")
}

// With the upstream failing and nothing kept, the index is an upstream
// error: a 404 would tell Bundler the gems do not exist.
func TestUpstreamDownColdIsNotNotFound(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.src.Fake.Fault("*", upstreamtest.Fault{Status: 503})
	for _, p := range []string{"versions", "names", "info/demo_gem", "gems/demo_gem-1.0.0.gem", "specs.4.8.gz"} {
		t.Run(p, func(t *testing.T) {
			if r := e.get(t, e.url("app")+p); r.status != http.StatusBadGateway {
				t.Errorf("status %d, want 502: %s", r.status, r.body)
			}
		})
	}
	t.Run("a repository without an external connection is unaffected", func(t *testing.T) {
		if r := e.get(t, e.url("internal")+"versions"); r.status != 200 || string(r.body) != versionsHeader {
			t.Errorf("%d %q", r.status, r.body)
		}
	})
}
