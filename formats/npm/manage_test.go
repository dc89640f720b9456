package npm

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

func TestPublish(t *testing.T) {
	e := newEnv(t, nil)
	f := e.fx["@acme/util@1.1.5"]

	t.Run("publish to internal", func(t *testing.T) {
		var ok struct{ OK bool }
		e.do(http.MethodPut, e.url("internal", "@acme%2futil"), publishBody(f, "latest", nil)).must(t, http.StatusOK).json(t, &ok)
		if !ok.OK {
			t.Error(`answer lacks "ok": true`)
		}
	})
	t.Run("visible in internal at once", func(t *testing.T) {
		p := e.packument("internal", "@acme%2futil")
		if diff := cmp.Diff([]string{"1.1.5"}, keys(p.Versions)); diff != "" {
			t.Errorf("versions (-want +got):\n%s", diff)
		}
		v := p.version(t, "1.1.5")
		if p.Tags["latest"] != "1.1.5" || v.Dist.Integrity != f.integrity || v.Dist.Shasum != f.shasum || v.Dist.Tarball != e.url("internal", "@acme/util/-/util-1.1.5.tgz") {
			t.Errorf("tags %v dist %+v", p.Tags, v.Dist)
		}
		if p.Time["1.1.5"] == "" || !strings.HasPrefix(p.Readme, "# @acme/util") {
			t.Errorf("time %v readme %.20q", p.Time, p.Readme)
		}
	})
	t.Run("through app the guard hides the upstream's versions", func(t *testing.T) {
		p := e.packument("app", "@acme%2futil", "Accept", acceptCorgi)
		if diff := cmp.Diff([]string{"1.1.5"}, keys(p.Versions)); diff != "" {
			t.Errorf("versions (-want +got):\n%s", diff)
		}
		if p.Tags["latest"] != "1.1.5" {
			t.Errorf("latest %q", p.Tags["latest"])
		}
		r := e.get("app", "@acme/util/-/util-1.1.5.tgz").must(t, http.StatusOK)
		if !bytes.Equal(r.body, f.tgz) {
			t.Error("wrong bytes through app")
		}
		e.get("app", "@acme/util/-/util-1.2.0.tgz").npmError(t, http.StatusNotFound)
		if n := e.fake.Hits(upstreamTarballPath("@acme/util", "1.2.0")) + e.fake.Hits(upstreamTarballPath("@acme/util", "1.1.5")); n != 0 {
			t.Errorf("upstream tarball hits %d", n)
		}
	})
	t.Run("republishing is a conflict", func(t *testing.T) {
		e.do(http.MethodPut, e.url("internal", "@acme%2futil"), publishBody(f, "latest", nil)).npmError(t, http.StatusConflict)
	})
	t.Run("a version an upstream serves is a conflict", func(t *testing.T) {
		lp := e.fx["left-pad-lite@1.0.0"]
		msg := e.do(http.MethodPut, e.url("app", "left-pad-lite"), publishBody(lp, "latest", nil)).npmError(t, http.StatusConflict)
		if !strings.Contains(msg, "upstream") {
			t.Errorf("message %q", msg)
		}
	})

	other := e.fx["@acme/private-lib@1.0.0"]
	bad := []struct {
		name   string
		path   string
		body   []byte
		status int
	}{
		{"name differs from the URL", "@acme%2fother", publishBody(other, "latest", nil), http.StatusBadRequest},
		{"integrity of other bytes", "@acme%2fprivate-lib", publishBody(other, "latest", func(_, v, _ map[string]any) {
			v["dist"].(map[string]any)["integrity"] = f.integrity
		}), http.StatusBadRequest},
		{"shasum of other bytes", "@acme%2fprivate-lib", publishBody(other, "latest", func(_, v, _ map[string]any) {
			v["dist"].(map[string]any)["shasum"] = f.shasum
		}), http.StatusBadRequest},
		{"length differs", "@acme%2fprivate-lib", publishBody(other, "latest", func(_, _, a map[string]any) { a["length"] = 3 }), http.StatusBadRequest},
		{"data not base64", "@acme%2fprivate-lib", publishBody(other, "latest", func(_, _, a map[string]any) { a["data"] = "!!!" }), http.StatusBadRequest},
		{"version not semver", "@acme%2fprivate-lib", publishBody(other, "latest", func(d, v, _ map[string]any) {
			v["version"] = "1.0"
			d["versions"] = map[string]any{"1.0": v}
		}), http.StatusBadRequest},
		{"two tarballs", "@acme%2fprivate-lib", publishBody(other, "latest", func(d, _, a map[string]any) {
			d["_attachments"].(map[string]any)["x-2.0.0.tgz"] = a
		}), http.StatusBadRequest},
		{"upper case name", "@acme%2fPrivate", publishBody(other, "latest", func(d, v, _ map[string]any) {
			d["name"], v["name"] = "@acme/Private", "@acme/Private"
		}), http.StatusBadRequest},
		{"not JSON", "@acme%2fprivate-lib", []byte("{"), http.StatusBadRequest},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			e.do(http.MethodPut, e.url("internal", tc.path), tc.body).npmError(t, tc.status)
		})
	}
	if e.record("internal", pkgOf("@acme/private-lib"), "1.0.0") != nil {
		t.Error("a refused publish was stored")
	}

	t.Run("body over the limit is 413", func(t *testing.T) {
		small := newEnv(t, NewWithOptions(Options{MaxPublishBody: 1024}))
		small.do(http.MethodPut, small.url("internal", "@acme%2fprivate-lib"), publishBody(other, "latest", nil)).npmError(t, http.StatusRequestEntityTooLarge)
	})
	t.Run("a merged retry body publishes the tarball's version", func(t *testing.T) {
		v2 := e.fx["@acme/private-lib@1.1.0"]
		e.publish("internal", other, "latest")
		body := publishBody(v2, "latest", func(d, _, _ map[string]any) {
			d["versions"].(map[string]any)["1.0.0"] = map[string]any{"name": "@acme/private-lib", "version": "1.0.0"}
		})
		e.do(http.MethodPut, e.url("internal", "@acme%2fprivate-lib"), body).must(t, http.StatusOK)
		p := e.packument("internal", "@acme%2fprivate-lib")
		if len(p.Versions) != 2 || p.Tags["latest"] != "1.1.0" {
			t.Errorf("versions %v tags %v", keys(p.Versions), p.Tags)
		}
	})
}

func TestDistTags(t *testing.T) {
	e := newEnv(t, nil)
	e.publish("internal", e.fx["@acme/private-lib@1.0.0"], "latest")
	e.publish("internal", e.fx["@acme/private-lib@1.1.0"], "latest")
	tagsOf := func(repo, pkg string) map[string]string {
		t.Helper()
		var tags map[string]string
		e.get(repo, "-/package/"+pkg+"/dist-tags").must(t, http.StatusOK).json(t, &tags)
		return tags
	}
	setTag := func(repo, pkg, tag, version string) *result {
		return e.do(http.MethodPut, e.url(repo, "-/package/"+pkg+"/dist-tags/"+tag), []byte(`"`+version+`"`))
	}
	const lib = "@acme%2fprivate-lib"

	if diff := cmp.Diff(map[string]string{"latest": "1.1.0"}, tagsOf("internal", lib)); diff != "" {
		t.Errorf("initial tags (-want +got):\n%s", diff)
	}
	setTag("internal", lib, "beta", "1.0.0").must(t, http.StatusOK)
	if diff := cmp.Diff(map[string]string{"latest": "1.1.0", "beta": "1.0.0"}, tagsOf("internal", "@acme/private-lib")); diff != "" {
		t.Errorf("after add (-want +got):\n%s", diff)
	}
	if p := e.packument("app", lib); p.Tags["beta"] != "1.0.0" {
		t.Errorf("app packument tags %v", p.Tags)
	}
	e.do(http.MethodPost, e.url("internal", "-/package/"+lib+"/dist-tags/latest"), []byte(`"1.0.0"`)).must(t, http.StatusOK)
	if got := tagsOf("internal", lib)["latest"]; got != "1.0.0" {
		t.Errorf("latest moved to %q, want 1.0.0", got)
	}
	setTag("internal", lib, "beta", "9.9.9").npmError(t, http.StatusNotFound)
	setTag("internal", lib, "1.x", "1.0.0").npmError(t, http.StatusBadRequest)
	e.do(http.MethodDelete, e.url("internal", "-/package/"+lib+"/dist-tags/beta"), nil).must(t, http.StatusOK)
	if _, ok := tagsOf("internal", lib)["beta"]; ok {
		t.Error("beta survived its removal")
	}
	e.do(http.MethodDelete, e.url("internal", "-/package/"+lib+"/dist-tags/latest"), nil).npmError(t, http.StatusBadRequest)
	e.do(http.MethodDelete, e.url("internal", "-/package/"+lib+"/dist-tags/nope"), nil).npmError(t, http.StatusNotFound)
	e.get("internal", "-/package/no-such/dist-tags").npmError(t, http.StatusNotFound)

	t.Run("a tag set downstream wins over the upstream's", func(t *testing.T) {
		// Setting a tag needs the package stored in the repository.
		setTag("app", "left-pad-lite", "beta", "1.1.0").npmError(t, http.StatusForbidden)
		e.get("app", tarballPath("left-pad-lite", "1.0.0")).must(t, http.StatusOK)
		e.record("app", pkgOf("left-pad-lite"), "1.0.0")
		setTag("app", "left-pad-lite", "beta", "1.1.0").must(t, http.StatusOK)
		if got := tagsOf("app", "left-pad-lite")["beta"]; got != "1.1.0" {
			t.Errorf("app beta = %q, want 1.1.0", got)
		}
		if got := tagsOf("team", "left-pad-lite")["beta"]; got != "2.0.0-beta.1" {
			t.Errorf("team beta = %q, want the upstream's 2.0.0-beta.1", got)
		}
		if p := e.packument("app", "left-pad-lite"); len(p.Versions) != 3 {
			t.Errorf("app lost upstream versions after a tag change: %v", keys(p.Versions))
		}
		// Removing it in app hides the upstream's tag there too.
		e.do(http.MethodDelete, e.url("app", "-/package/left-pad-lite/dist-tags/beta"), nil).must(t, http.StatusOK)
		if tags := tagsOf("app", "left-pad-lite"); tags["beta"] != "" {
			t.Errorf("app tags after rm: %v", tags)
		}
		if got := tagsOf("team", "left-pad-lite")["beta"]; got != "2.0.0-beta.1" {
			t.Errorf("team beta = %q after app's rm", got)
		}
		setTag("app", "left-pad-lite", "beta", "1.0.0").must(t, http.StatusOK)
		if got := tagsOf("app", "left-pad-lite")["beta"]; got != "1.0.0" {
			t.Errorf("re-added beta = %q", got)
		}
	})
}

// writeDoc reads the packument npm's write commands edit.
func (e *env) writeDoc(repo, pkg string) map[string]any {
	e.t.Helper()
	var doc map[string]any
	r := e.get(repo, pkg+"?write=true").must(e.t, http.StatusOK)
	r.json(e.t, &doc)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		e.t.Errorf("?write=true Cache-Control %q", cc)
	}
	return doc
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDeprecate(t *testing.T) {
	e := newEnv(t, nil)
	e.publish("internal", e.fx["@acme/private-lib@1.0.0"], "latest")
	e.publish("internal", e.fx["@acme/private-lib@1.1.0"], "latest")
	const lib = "@acme%2fprivate-lib"

	deprecate := func(repo, pkg, version, msg string) *result {
		doc := e.writeDoc(repo, pkg)
		doc["versions"].(map[string]any)[version].(map[string]any)["deprecated"] = msg
		return e.do(http.MethodPut, e.url(repo, pkg), mustJSON(doc))
	}
	deprecate("internal", lib, "1.0.0", "use 1.1.0").must(t, http.StatusOK)
	for _, accept := range []string{"application/json", acceptCorgi} {
		for _, repo := range []string{"internal", "app"} {
			p := e.packument(repo, lib, "Accept", accept)
			if got := p.version(t, "1.0.0").Deprecated; got != "use 1.1.0" {
				t.Errorf("%s %s: deprecated %q", repo, accept, got)
			}
			if got := p.version(t, "1.1.0").Deprecated; got != "" {
				t.Errorf("%s: 1.1.0 deprecated %q", repo, got)
			}
		}
	}
	// The rest of the version object is untouched.
	rec := e.record("internal", pkgOf("@acme/private-lib"), "1.0.0")
	if !bytes.Contains(rec.Meta, []byte(`"deprecated":"use 1.1.0"`)) || !bytes.Contains(rec.Meta, []byte(`"_npmVersion":"11.19.1"`)) {
		t.Errorf("stored meta %s", rec.Meta)
	}

	deprecate("internal", lib, "1.0.0", "").must(t, http.StatusOK)
	if got := e.packument("internal", lib).version(t, "1.0.0").Deprecated; got != "" {
		t.Errorf("after undeprecate: %q", got)
	}
	if bytes.Contains(e.record("internal", pkgOf("@acme/private-lib"), "1.0.0").Meta, []byte("deprecated")) {
		t.Error("undeprecate left the field")
	}

	t.Run("a version stored upstream cannot be deprecated downstream", func(t *testing.T) {
		deprecate("app", "left-pad-lite", "1.0.0", "no").npmError(t, http.StatusForbidden)
	})
	t.Run("a stale revision is a conflict", func(t *testing.T) {
		doc := e.writeDoc("internal", lib)
		e.publish("internal", e.fx["@acme/private-lib@1.2.0"], "latest")
		doc["versions"].(map[string]any)["1.0.0"].(map[string]any)["deprecated"] = "late"
		e.do(http.MethodPut, e.url("internal", lib), mustJSON(doc)).npmError(t, http.StatusConflict)
	})
}

func TestUnpublish(t *testing.T) {
	e := newEnv(t, nil)
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		e.publish("internal", e.fx["@acme/private-lib@"+v], "latest")
	}
	const lib = "@acme%2fprivate-lib"
	p := pkgOf("@acme/private-lib")

	// npm unpublish @acme/private-lib@1.1.0: the document without the
	// version, then the tarball.
	doc := e.writeDoc("internal", lib)
	delete(doc["versions"].(map[string]any), "1.1.0")
	e.do(http.MethodPut, e.url("internal", lib+"/-rev/"+doc["_rev"].(string)), mustJSON(doc)).must(t, http.StatusOK)
	rev := e.writeDoc("internal", lib)["_rev"].(string)
	e.do(http.MethodDelete, e.url("internal", "@acme/private-lib/-/private-lib-1.1.0.tgz/-rev/"+rev), nil).must(t, http.StatusOK)

	pk := e.packument("internal", lib)
	if diff := cmp.Diff([]string{"1.0.0", "1.2.0"}, sorted(keys(pk.Versions))); diff != "" {
		t.Errorf("versions after unpublish (-want +got):\n%s", diff)
	}
	if e.record("internal", p, "1.1.0") != nil {
		t.Error("1.1.0 is still recorded")
	}
	e.get("internal", "@acme/private-lib/-/private-lib-1.1.0.tgz").npmError(t, http.StatusNotFound)

	t.Run("stale revision", func(t *testing.T) {
		e.do(http.MethodPut, e.url("internal", lib+"/-rev/1-stale"), mustJSON(doc)).npmError(t, http.StatusConflict)
		e.do(http.MethodDelete, e.url("internal", lib+"/-rev/1-stale"), nil).npmError(t, http.StatusConflict)
	})
	t.Run("upstream versions cannot be unpublished downstream", func(t *testing.T) {
		d := e.writeDoc("app", "left-pad-lite")
		delete(d["versions"].(map[string]any), "1.0.0")
		e.do(http.MethodPut, e.url("app", "left-pad-lite/-rev/"+d["_rev"].(string)), mustJSON(d)).npmError(t, http.StatusForbidden)
		e.do(http.MethodDelete, e.url("app", "left-pad-lite/-rev/"+d["_rev"].(string)), nil).npmError(t, http.StatusNotFound)
	})
	t.Run("whole package", func(t *testing.T) {
		rev := e.writeDoc("internal", lib)["_rev"].(string)
		e.do(http.MethodDelete, e.url("internal", lib+"/-rev/"+rev), nil).must(t, http.StatusOK)
		e.get("internal", lib).npmError(t, http.StatusNotFound)
		e.get("app", lib).npmError(t, http.StatusNotFound)
		for _, v := range []string{"1.0.0", "1.2.0"} {
			if e.record("internal", p, v) != nil {
				t.Errorf("%s is still recorded", v)
			}
		}
	})
}

func sorted(s []string) []string {
	sortVersions(s)
	return s
}

func TestSearch(t *testing.T) {
	e := newEnv(t, nil)
	e.publish("internal", e.fx["@acme/private-lib@1.0.0"], "latest")
	e.get("app", tarballPath("left-pad-lite", "1.0.0")).must(t, http.StatusOK)
	e.record("app", pkgOf("left-pad-lite"), "1.0.0")

	type hit struct {
		Package struct {
			Name, Scope, Version, Description string
			Keywords                          []string
			Date                              string
			Links                             map[string]string
		}
		SearchScore float64
	}
	search := func(repo, query string) (names []string, total int, hits []hit) {
		t.Helper()
		var out struct {
			Objects []hit
			Total   int
			Time    string
		}
		e.get(repo, "-/v1/search?"+query).must(t, http.StatusOK).json(t, &out)
		for _, o := range out.Objects {
			names = append(names, o.Package.Name)
		}
		return names, out.Total, out.Objects
	}
	tests := []struct {
		name, repo, query string
		want              []string
		total             int
	}{
		{"all through app", "app", "text=", []string{"@acme/private-lib", "left-pad-lite"}, 2},
		{"by word", "app", "text=private", []string{"@acme/private-lib"}, 1},
		{"two words", "app", "text=left+lite", []string{"left-pad-lite"}, 1},
		{"scope", "app", "text=@acme", []string{"@acme/private-lib"}, 1},
		{"paged", "app", "text=&size=1&from=1", []string{"left-pad-lite"}, 2},
		{"no match", "app", "text=zzz", nil, 0},
		{"internal only sees its own", "internal", "text=", []string{"@acme/private-lib"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			names, total, _ := search(tc.repo, tc.query)
			if diff := cmp.Diff(tc.want, names); diff != "" || total != tc.total {
				t.Errorf("names (-want +got):\n%s total %d, want %d", diff, total, tc.total)
			}
		})
	}
	_, _, hits := search("app", "text=private")
	if len(hits) == 1 {
		h := hits[0].Package
		if h.Version != "1.0.0" || h.Scope != "acme" || h.Description != "fixture @acme/private-lib" || h.Date == "" || len(h.Keywords) != 2 {
			t.Errorf("search entry %+v", h)
		}
	}
	e.get("app", "-/v1/search?text=x&size=-1").npmError(t, http.StatusBadRequest)
}

func TestAccountEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name, method, path string
		status             int
		want               string
	}{
		{"ping", http.MethodGet, "-/ping", http.StatusOK, `{}`},
		{"ping write", http.MethodGet, "-/ping?write=true", http.StatusOK, `{}`},
		{"whoami", http.MethodGet, "-/whoami", http.StatusOK, `{"username":"local"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, e.url("app", tc.path), nil).must(t, tc.status)
			if got := strings.TrimSpace(string(r.body)); got != tc.want {
				t.Errorf("body %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("adduser says how to log in", func(t *testing.T) {
		body := []byte(`{"_id":"org.couchdb.user:alice","name":"alice","password":"pw","type":"user","roles":[]}`)
		msg := e.do(http.MethodPut, e.url("app", "-/user/org.couchdb.user:alice"), body).npmError(t, http.StatusForbidden)
		if !strings.Contains(msg, "aws codeartifact login --tool npm") {
			t.Errorf("message %q", msg)
		}
		e.do(http.MethodPost, e.url("app", "-/v1/login"), []byte(`{}`)).npmError(t, http.StatusForbidden)
	})
}

func TestErrorBodies(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"unknown package", http.MethodGet, "no-such-package", http.StatusNotFound},
		{"bad name", http.MethodGet, "bad%20name", http.StatusBadRequest},
		{"traversal", http.MethodGet, "%2e%2e%2fsecret", http.StatusBadRequest},
		{"unknown endpoint", http.MethodGet, "-/nothing-here", http.StatusNotFound},
		{"method", http.MethodPost, "left-pad-lite", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do(tc.method, e.url("app", tc.path), nil).npmError(t, tc.status)
		})
	}
	for _, path := range []string{"left-pad-lite/1.0.0", "left-pad-lite/-/left-pad-lite-1.0.0.tgz", "-/package/left-pad-lite/dist-tags"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			t.Run("read-only "+method+" "+path, func(t *testing.T) {
				r := e.do(method, e.url("app", path), nil)
				r.npmError(t, http.StatusMethodNotAllowed)
				if got := r.header.Get("Allow"); got != "GET, HEAD" {
					t.Errorf("Allow %q, want GET, HEAD", got)
				}
			})
		}
	}
	t.Run("unknown repository", func(t *testing.T) {
		e.do(http.MethodGet, e.in.URL+"/acme/npm/nope/left-pad-lite", nil).npmError(t, http.StatusNotFound)
	})
	t.Run("HEAD has no body", func(t *testing.T) {
		r := e.do(http.MethodHead, e.url("app", "no-such-package"), nil).must(t, http.StatusNotFound)
		if len(r.body) != 0 {
			t.Errorf("HEAD body %q", r.body)
		}
	})
}

func TestAuditPassThrough(t *testing.T) {
	e := newEnv(t, nil)
	const answer = `{"left-pad-lite":[{"id":1,"severity":"low","vulnerable_versions":"<1.1.0"}]}`
	var got struct {
		method, encoding, contentType string
		body                          []byte
	}
	e.fake.HandleFunc("/-/npm/v1/security/advisories/bulk", func(w http.ResponseWriter, r *http.Request) {
		got.method, got.encoding, got.contentType = r.Method, r.Header.Get("Content-Encoding"), r.Header.Get("Content-Type")
		got.body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	})
	gz := bytes.NewBuffer(formattest.Gzip([]byte(`{"left-pad-lite":["1.0.0"]}`)))

	r := e.do(http.MethodPost, e.url("app", "-/npm/v1/security/advisories/bulk"), gz.Bytes(), "Content-Encoding", "gzip", "Content-Type", "application/json").must(t, http.StatusOK)
	if string(r.body) != answer || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("answer %s (%s)", r.body, r.header.Get("Content-Type"))
	}
	if got.method != http.MethodPost || got.encoding != "gzip" || got.contentType != "application/json" || !bytes.Equal(got.body, gz.Bytes()) {
		t.Errorf("upstream saw %s %q %q, body equal: %v", got.method, got.encoding, got.contentType, bytes.Equal(got.body, gz.Bytes()))
	}
	t.Run("upstream statuses are relayed", func(t *testing.T) {
		r := e.do(http.MethodPost, e.url("app", "-/npm/v1/security/audits/quick"), []byte(`{}`)).must(t, http.StatusNotFound)
		if !strings.Contains(string(r.body), "Not found") {
			t.Errorf("body %s", r.body)
		}
	})
	t.Run("without an external connection", func(t *testing.T) {
		r := e.do(http.MethodPost, e.url("internal", "-/npm/v1/security/advisories/bulk"), []byte(`{"x":["1.0.0"]}`)).must(t, http.StatusOK)
		if strings.TrimSpace(string(r.body)) != "{}" {
			t.Errorf("bulk without upstream: %s", r.body)
		}
		e.do(http.MethodPost, e.url("internal", "-/npm/v1/security/audits/quick"), []byte(`{}`)).npmError(t, http.StatusNotFound)
	})
	t.Run("keys", func(t *testing.T) {
		e.fake.Handle("/-/npm/v1/keys", upstreamtest.Response{Body: []byte(`{"keys":[{"keyid":"SHA256:fixture-key"}]}`), ContentType: "application/json"})
		r := e.get("app", "-/npm/v1/keys").must(t, http.StatusOK)
		if !strings.Contains(string(r.body), "fixture-key") {
			t.Errorf("keys %s", r.body)
		}
	})
}
