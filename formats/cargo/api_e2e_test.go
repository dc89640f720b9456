package cargo_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/cargo"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// publishBody frames metadata and a .crate as cargo publish does.
func publishBody(meta any, crate []byte) []byte {
	m, _ := json.Marshal(meta)
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m)))
	b = append(b, m...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(crate)))
	return append(b, crate...)
}

// newCrateMeta is publish metadata as cargo 1.95 sends it.
func newCrateMeta(name, version string, deps ...map[string]any) map[string]any {
	if deps == nil {
		deps = []map[string]any{}
	}
	return map[string]any{
		"name": name, "vers": version, "deps": deps, "features": map[string][]string{},
		"authors": []string{}, "description": "Stockpile fixture " + name, "documentation": nil, "homepage": "https://example.test/" + name,
		"readme": "# " + name, "readme_file": "README.md", "keywords": []string{}, "categories": []string{},
		"license": "MIT", "license_file": nil, "repository": "https://example.test/" + name + ".git", "badges": map[string]any{},
		"links": nil, "rust_version": nil,
	}
}

func publish(t *testing.T, in *proxytest.Instance, repo string, body []byte) response {
	t.Helper()
	return do(t, http.MethodPut, in.URL+"/acme/cargo/"+repo+"/api/v1/crates/new", bytes.NewReader(body))
}

// goCrate makes a minimal .crate the way cargo lays it out, for publish
// requests that must pass the archive checks.
func goCrate(t *testing.T, name, version string) []byte {
	t.Helper()
	return formattest.Crate(name, version,
		formattest.Text("Cargo.toml", "[package]\nname = \""+name+"\"\nversion = \""+version+"\"\nedition = \"2021\"\n"),
		formattest.Text("src/lib.rs", "pub fn f() {}\n"))
}

var pubtime = regexp.MustCompile(`"pubtime":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"`)

// withDep starts a Stockpile over the standard registry and frames
// acme-internal 0.1.0 as cargo publishes it, with one normal dependency on
// a at versionReq from registry (nil: the same registry).
func withDep(t *testing.T, versionReq string, registry any) (in *proxytest.Instance, c *crate, body []byte) {
	t.Helper()
	reg := newRegistry(t, styleMarkers)
	reg.standard(t)
	in = stockpile(t, reg, upstream.Options{}, nil)
	c = fixture(t, "acme-internal", "0.1.0")
	meta := newCrateMeta("acme-internal", "0.1.0", map[string]any{
		"optional": false, "default_features": true, "name": "a", "features": []string{}, "version_req": versionReq,
		"target": nil, "kind": "normal", "registry": registry, "explicit_name_in_toml": nil,
	})
	return in, c, publishBody(meta, c.bytes)
}

func TestPublishWritesTheIndexLine(t *testing.T) {
	in, c, body := withDep(t, ">=0.1, <0.2", "https://github.com/rust-lang/crates.io-index")
	res := publish(t, in, "internal", body)
	if res.Code != 200 || res.Body != `{"warnings":{"invalid_badges":[],"invalid_categories":[],"other":[]}}`+"\n" {
		t.Fatalf("publish: %d %s", res.Code, res.Body)
	}
	idx := get(t, in.URL+"/acme/cargo/internal/ac/me/acme-internal")
	want := `{"name":"acme-internal","vers":"0.1.0","deps":[{"name":"a","req":">=0.1, <0.2","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":"https://github.com/rust-lang/crates.io-index"}],"cksum":"` + c.sha256 + `","features":{},"yanked":false,"pubtime":"T"}` + "\n"
	if diff := cmp.Diff(want, pubtime.ReplaceAllString(idx.Body, `"pubtime":"T"`)); diff != "" {
		t.Fatalf("index after publish (-want +got):\n%s", diff)
	}
	if dl := get(t, in.URL+"/acme/cargo/internal/api/v1/crates/acme-internal/0.1.0/download"); dl.Code != 200 || dl.Body != string(c.bytes) {
		t.Fatalf("download of the published crate: %d", dl.Code)
	}

	for _, tc := range []struct {
		name string
		repo string
		body []byte
		code int
		want string
	}{
		{"same version again", "internal", body, 409, "already exists in repository internal"},
		{"same version, other spelling", "internal", publishBody(newCrateMeta("acme_internal", "0.1.0"), goCrate(t, "acme_internal", "0.1.0")), 409, "already known as acme-internal"},
		{"version differing in build metadata", "internal", publishBody(newCrateMeta("acme-internal", "0.1.0+build"), goCrate(t, "acme-internal", "0.1.0+build")), 409, "build metadata"},
		{"a version the upstream serves", "team", publishBody(newCrateMeta("long-crate-name", "1.1.0"), fixture(t, "long-crate-name", "1.1.0").bytes), 409, "already available from upstream repository cargo-store"},
		{"another spelling of an upstream crate", "team", publishBody(newCrateMeta("long_crate_name", "7.0.0"), goCrate(t, "long_crate_name", "7.0.0")), 409, "already known as long-crate-name"},
		{"crate of another version", "internal", publishBody(newCrateMeta("acme-internal", "0.3.0"), c.bytes), 400, "is not under acme-internal-0.3.0/"},
		{"bad name", "internal", publishBody(newCrateMeta("acme internal", "0.1.0"), c.bytes), 400, "may only contain"},
		{"bad version", "internal", publishBody(newCrateMeta("acme-internal", "1"), c.bytes), 400, "not a SemVer 2.0 version"},
		{"metadata not JSON", "internal", append(binary.LittleEndian.AppendUint32(nil, 3), "{{{\x01\x00\x00\x00x"...), 400, "not valid JSON"},
		{"truncated body", "internal", body[:100], 400, "declared as"},
		{"not a crate", "internal", publishBody(newCrateMeta("acme-internal", "0.4.0"), []byte("FIXTURE crate demo-crate 0.1.0\n")), 400, "not gzip-compressed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := publish(t, in, tc.repo, tc.body)
			var e struct {
				Errors []struct{ Detail string }
			}
			if err := json.Unmarshal([]byte(res.Body), &e); err != nil || len(e.Errors) != 1 {
				t.Fatalf("%d %s: not a cargo error body", res.Code, res.Body)
			}
			if res.Code != tc.code || !strings.Contains(e.Errors[0].Detail, tc.want) {
				t.Fatalf("%d %q, want %d with %q", res.Code, e.Errors[0].Detail, tc.code, tc.want)
			}
		})
	}

	t.Run("body over the limit", func(t *testing.T) {
		small := proxytest.Start(t, proxytest.Options{Config: func() *proxy.Config {
			cfg := proxy.Defaults()
			cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "internal"}}}}
			return &cfg
		}(), Formats: []formats.Format{cargo.NewWithOptions(cargo.Options{MaxPublishBody: 512})}})
		res := publish(t, small, "internal", body)
		if res.Code != 413 || !strings.Contains(res.Body, "larger than 512 bytes") {
			t.Fatalf("%d %s, want 413", res.Code, res.Body)
		}
	})
}

func TestPublishedVersionsHideTheUpstreamsOfTheirName(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	reg.standard(t) // the upstream offers acme-internal 9.9.9
	in := stockpile(t, reg, upstream.Options{}, nil)
	app := in.URL + "/acme/cargo/app/"
	if res := get(t, app+"ac/me/acme-internal"); res.Code != 200 || !strings.Contains(res.Body, `"vers":"9.9.9"`) {
		t.Fatalf("before the publish: %d %s", res.Code, res.Body)
	}
	c := fixture(t, "acme-internal", "0.1.0")
	if res := publish(t, in, "internal", publishBody(newCrateMeta("acme-internal", "0.1.0"), c.bytes)); res.Code != 200 {
		t.Fatalf("publish: %d %s", res.Code, res.Body)
	}
	res := get(t, app+"ac/me/acme-internal")
	if res.Code != 200 || strings.Count(res.Body, "\n") != 1 || !strings.Contains(res.Body, `"vers":"0.1.0"`) {
		t.Fatalf("after the publish, app offers:\n%s", res.Body)
	}
	if res := get(t, app+"api/v1/crates/acme-internal/9.9.9/download"); res.Code != 404 {
		t.Fatalf("public version of an internal name: %d, want 404", res.Code)
	}
	if n := reg.DL.TotalHits(); n != 0 {
		t.Fatalf("the upstream was asked for %d files", n)
	}
}

func TestYankAPI(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	in := stockpile(t, reg, upstream.Options{}, nil)
	c := fixture(t, "acme-internal", "0.1.0")
	if res := publish(t, in, "internal", publishBody(newCrateMeta("acme-internal", "0.1.0"), c.bytes)); res.Code != 200 {
		t.Fatalf("publish: %d %s", res.Code, res.Body)
	}
	api := in.URL + "/acme/cargo/internal/api/v1/crates/"
	idx := in.URL + "/acme/cargo/app/ac/me/acme-internal"
	before := get(t, idx)
	for _, tc := range []struct {
		name, method, path string
		code               int
		body, yanked       string
	}{
		{"yank", "DELETE", "acme-internal/0.1.0/yank", 200, `{"ok":true}`, `"yanked":true`},
		{"yank again", "DELETE", "acme-internal/0.1.0/yank", 200, `{"ok":true}`, `"yanked":true`},
		{"unyank", "PUT", "acme-internal/0.1.0/unyank", 200, `{"ok":true}`, `"yanked":false`},
		{"other spelling", "DELETE", "Acme_Internal/0.1.0/yank", 200, `{"ok":true}`, `"yanked":true`},
		{"unknown version", "DELETE", "acme-internal/9.0.0/yank", 404, `not in repository internal`, `"yanked":true`},
		{"wrong method", "GET", "acme-internal/0.1.0/yank", 405, `not allowed`, `"yanked":true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, tc.method, api+tc.path, nil)
			if res.Code != tc.code || !strings.Contains(res.Body, tc.body) {
				t.Fatalf("%s %s: %d %s", tc.method, tc.path, res.Code, res.Body)
			}
			if got := get(t, idx); !strings.Contains(got.Body, tc.yanked) {
				t.Fatalf("index: %s, want %s", got.Body, tc.yanked)
			}
		})
	}
	// The yanked flag is the only change, and the validator follows it.
	after := get(t, idx, "If-None-Match", before.Header.Get("ETag"))
	if after.Code != 200 || after.Body != strings.Replace(before.Body, `"yanked":false`, `"yanked":true`, 1) {
		t.Fatalf("yanked index: %d\n%s\nbefore:\n%s", after.Code, after.Body, before.Body)
	}
	if res := get(t, api+"acme-internal/0.1.0/download"); res.Code != 200 {
		t.Fatalf("download of a yanked version: %d", res.Code)
	}
}

func TestSearchOwnersAndMe(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	reg.standard(t)
	in := stockpile(t, reg, upstream.Options{}, nil)
	app := in.URL + "/acme/cargo/app/"
	for _, id := range []string{"long-crate-name@1.0.0", "long-crate-name@1.1.0", "long-crate-name@1.2.0", "Mixed_Case@0.1.0"} {
		name, version, _ := strings.Cut(id, "@")
		if res := get(t, app+"api/v1/crates/"+name+"/"+version+"/download"); res.Code != 200 {
			t.Fatalf("download %s: %d", id, res.Code)
		}
	}
	c := fixture(t, "acme-internal", "0.1.0")
	if res := publish(t, in, "internal", publishBody(newCrateMeta("acme-internal", "0.1.0"), c.bytes)); res.Code != 200 {
		t.Fatalf("publish: %d %s", res.Code, res.Body)
	}

	for _, tc := range []struct {
		name, query, want string
	}{
		{"by part of the name", "q=crate", `{"crates":[{"name":"long-crate-name","max_version":"1.1.0","description":null}],"meta":{"total":1}}`},
		{"other separator and case", "q=LONG_CRATE", `{"crates":[{"name":"long-crate-name","max_version":"1.1.0","description":null}],"meta":{"total":1}}`},
		{"exact match first", "q=mixed_case", `{"crates":[{"name":"Mixed_Case","max_version":"0.1.0","description":null}],"meta":{"total":1}}`},
		{"published crate with its description", "q=acme", `{"crates":[{"name":"acme-internal","max_version":"0.1.0","description":"Stockpile fixture acme-internal"}],"meta":{"total":1}}`},
		{"everything, paged", "q=&per_page=2", `{"crates":[{"name":"acme-internal","max_version":"0.1.0","description":"Stockpile fixture acme-internal"},{"name":"long-crate-name","max_version":"1.1.0","description":null}],"meta":{"total":3}}`},
		{"second page", "q=&per_page=2&page=2", `{"crates":[{"name":"Mixed_Case","max_version":"0.1.0","description":null}],"meta":{"total":3}}`},
		{"no match", "q=zzz", `{"crates":[],"meta":{"total":0}}`},
	} {
		t.Run("search "+tc.name, func(t *testing.T) {
			res := get(t, app+"api/v1/crates?"+tc.query)
			if res.Code != 200 || strings.TrimSpace(res.Body) != tc.want {
				t.Fatalf("%d %s\nwant %s", res.Code, res.Body, tc.want)
			}
		})
	}
	if res := get(t, app+"api/v1/crates?per_page=x"); res.Code != 400 {
		t.Fatalf("bad per_page: %d", res.Code)
	}

	for _, tc := range []struct {
		name, method, crate string
		code                int
		want                string
	}{
		{"list the publisher", "GET", "acme-internal", 200, `{"users":[{"id":1,"login":"local","name":null}]}`},
		{"upstream crate: nobody", "GET", "long-crate-name", 200, `{"users":[]}`},
		{"unknown crate", "GET", "nonexistent", 404, `"errors"`},
		{"add", "PUT", "acme-internal", 403, `repository's permissions`},
		{"remove", "DELETE", "acme-internal", 403, `repository's permissions`},
	} {
		t.Run("owners "+tc.name, func(t *testing.T) {
			res := do(t, tc.method, app+"api/v1/crates/"+tc.crate+"/owners", strings.NewReader(`{"users":["someone"]}`), "Content-Type", "application/json")
			if res.Code != tc.code || !strings.Contains(res.Body, tc.want) {
				t.Fatalf("%d %s, want %d with %s", res.Code, res.Body, tc.code, tc.want)
			}
		})
	}
	if res := get(t, app+"me"); res.Code != 200 || !strings.Contains(res.Body, "get-authorization-token --domain acme") || !strings.Contains(res.Body, "sparse+"+in.URL+"/acme/cargo/app/") {
		t.Fatalf("me: %d %s", res.Code, res.Body)
	}
	for _, tc := range []struct{ method, path string }{
		{"POST", "config.json"}, {"DELETE", "lo/ng/long-crate-name"}, {"GET", "api/v1/crates/new"}, {"POST", "api/v1/crates"},
	} {
		if res := do(t, tc.method, app+tc.path, nil); res.Code != 405 || res.Header.Get("Allow") == "" {
			t.Errorf("%s %s: %d (Allow %q), want 405", tc.method, tc.path, res.Code, res.Header.Get("Allow"))
		}
	}
	for _, p := range []string{"", "api/v1/other", "api/v2/crates", "api/v1/crates/a/b/c/d/e", "api/v1/crates/x/1.0.0/other"} {
		if res := get(t, app+p); res.Code != 404 || !strings.Contains(res.Body, `"errors"`) {
			t.Errorf("GET /%s: %d %s, want a cargo-shaped 404", p, res.Code, res.Body)
		}
	}
}

func TestControlPlaneWithFormatCargo(t *testing.T) {
	in, _, body := withDep(t, "^0.1", nil)
	if res := publish(t, in, "internal", body); res.Code != 200 {
		t.Fatalf("publish: %d %s", res.Code, res.Body)
	}
	q := "?domain=acme&repository=internal&format=cargo&package=Acme-INTERNAL"

	res := do(t, "POST", in.URL+"/v1/package/versions"+q, nil)
	var list struct {
		Package  string `json:"package"`
		Versions []struct{ Version, Status string }
	}
	if err := json.Unmarshal([]byte(res.Body), &list); err != nil || res.Code != 200 || list.Package != "acme_internal" || len(list.Versions) != 1 || list.Versions[0].Version != "0.1.0" {
		t.Fatalf("list-package-versions: %d %s", res.Code, res.Body)
	}
	res = get(t, in.URL+"/v1/package/version"+q+"&version=0.1.0")
	for _, want := range []string{`"summary":"Stockpile fixture acme-internal"`, `"name":"MIT"`, `"homePage":"https://example.test/acme-internal"`} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("describe-package-version: %d %s\nlacks %s", res.Code, res.Body, want)
		}
	}
	res = do(t, "POST", in.URL+"/v1/package/version/dependencies"+q+"&version=0.1.0", nil)
	if !strings.Contains(res.Body, `"dependencies":[{"package":"a","dependencyType":"normal","versionRequirement":"^0.1"}]`) {
		t.Errorf("list-package-version-dependencies: %d %s", res.Code, res.Body)
	}

	// Archived versions leave the index.
	res = do(t, "POST", in.URL+"/v1/package/versions/update_status"+q, strings.NewReader(`{"versions":["0.1.0"],"targetStatus":"Archived"}`), "Content-Type", "application/json")
	if res.Code != 200 || !strings.Contains(res.Body, `"successfulVersions"`) {
		t.Fatalf("update-package-versions-status: %d %s", res.Code, res.Body)
	}
	if res := get(t, in.URL+"/acme/cargo/internal/ac/me/acme-internal"); res.Code != 404 {
		t.Fatalf("index of an archived version: %d %s", res.Code, res.Body)
	}
	res = do(t, "POST", in.URL+"/v1/package/versions/update_status"+q, strings.NewReader(`{"versions":["0.1.0"],"targetStatus":"Unlisted"}`), "Content-Type", "application/json")
	if res := get(t, in.URL+"/acme/cargo/internal/ac/me/acme-internal"); res.Code != 200 || !strings.Contains(res.Body, `"yanked":true`) {
		t.Fatalf("index of an unlisted version: %d %s", res.Code, res.Body)
	}
}
