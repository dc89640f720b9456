package npm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/upstream"
)

var demo = formats.Package{Format: "npm", Namespace: "acme", Name: "demo"}

// fakeGetter serves one document, or an error.
type fakeGetter struct {
	body        []byte
	err         error
	ref, accept string
}

func (g *fakeGetter) Get(_ context.Context, ref, accept string) (*formats.Document, error) {
	g.ref, g.accept = ref, accept
	if g.err != nil {
		return nil, g.err
	}
	return &formats.Document{URL: "https://upstream.invalid/" + ref, Body: g.body, ContentType: "application/json"}, nil
}

func (g *fakeGetter) Do(context.Context, string, string, http.Header, io.Reader) (*http.Response, error) {
	return nil, errors.New("not used")
}

func readDemo(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/demo-packument.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFetchMetadata(t *testing.T) {
	g := &fakeGetter{body: readDemo(t)}
	md, err := New().FetchMetadata(context.Background(), g, demo)
	if err != nil {
		t.Fatal(err)
	}
	if g.ref != "@acme%2fdemo" || g.accept != "application/json" {
		t.Errorf("asked for %q with Accept %q, want @acme%%2fdemo and application/json", g.ref, g.accept)
	}
	if diff := cmp.Diff(map[string]string{"latest": "1.1.0", "legacy": "1.0.0"}, md.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	v := md.Versions["1.0.0"]
	if v == nil || len(md.Versions) != 2 {
		t.Fatalf("versions = %v, want 1.0.0 and 1.1.0", md.Versions)
	}
	want := []formats.AssetRef{{
		Name: "demo-1.0.0.tgz",
		URL:  "https://upstream.invalid/@acme/demo/-/demo-1.0.0.tgz",
		Digests: formats.Digests{
			SHA512: "2eee98c06fab8eb4e3e55f4de56a5fca0b300dff393dfc730d88639eab987998880a33b8a57f89c4e727a4fea31d94557c1e1ed12e3a24678316a98bca5757ca",
			SHA1:   "820a6cf426d6cb27ea4b0745e45b0d66f5dda104",
		},
	}}
	if diff := cmp.Diff(want, v.Assets); diff != "" {
		t.Errorf("assets (-want +got):\n%s", diff)
	}
	if got, want := v.Published, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("published = %v, want %v", got, want)
	}
	if !bytes.HasPrefix(v.Meta, []byte(`{`)) || !bytes.Contains(v.Meta, []byte(`"deprecated": "1.0.x is unsupported, use 1.1.0"`)) {
		t.Errorf("meta is not the raw version object: %s", v.Meta)
	}
	var extra map[string]any
	if err := json.Unmarshal(md.Extra, &extra); err != nil {
		t.Fatalf("extra: %v", err)
	}
	for _, k := range []string{"description", "readme", "readmeFilename", "license", "maintainers", "time"} {
		if _, ok := extra[k]; !ok {
			t.Errorf("extra lacks %s: %s", k, md.Extra)
		}
	}
	for _, k := range []string{"users", "_rev", "versions", "dist-tags"} {
		if _, ok := extra[k]; ok {
			t.Errorf("extra keeps %s: %s", k, md.Extra)
		}
	}
}

func TestFetchMetadataErrors(t *testing.T) {
	tests := []struct {
		name string
		g    *fakeGetter
		want error
	}{
		{"upstream 404 passes through", &fakeGetter{err: upstream.ErrNotFound}, upstream.ErrNotFound},
		{"upstream down passes through", &fakeGetter{err: upstream.ErrUnavailable}, upstream.ErrUnavailable},
		{"not JSON", &fakeGetter{body: []byte("<html>")}, upstream.ErrUnavailable},
		{"another package", &fakeGetter{body: []byte(`{"name":"other","versions":{}}`)}, upstream.ErrUnavailable},
		{"versions not an object", &fakeGetter{body: []byte(`{"name":"@acme/demo","versions":[]}`)}, upstream.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New().FetchMetadata(context.Background(), tc.g, demo)
			if !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParsePackumentSkipsBadVersions(t *testing.T) {
	body := []byte(`{"name":"x","versions":{"1.0.0":{"name":"x","version":"1.0.0","dist":{"integrity":"sha512-notbase64!","shasum":"nothex"}},"../1":{},"2.0.0":"junk","3.0.0":{"name":"x","version":"3.0.0"}}}`)
	md, err := parsePackument(formats.Package{Format: "npm", Name: "x"}, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Versions) != 2 || md.Versions["1.0.0"] == nil || md.Versions["3.0.0"] == nil {
		t.Fatalf("versions = %v, want 1.0.0 and 3.0.0", md.Versions)
	}
	if d := md.Versions["1.0.0"].Assets[0].Digests; d != (formats.Digests{}) {
		t.Errorf("malformed digests were declared: %+v", d)
	}
	if u := md.Versions["3.0.0"].Assets[0].URL; u != "x/-/x-3.0.0.tgz" {
		t.Errorf("missing tarball URL became %q, want the conventional relative one", u)
	}
}

func TestDeclaredDigests(t *testing.T) {
	const sha512hex = "2eee98c06fab8eb4e3e55f4de56a5fca0b300dff393dfc730d88639eab987998880a33b8a57f89c4e727a4fea31d94557c1e1ed12e3a24678316a98bca5757ca"
	const sri512 = "sha512-Lu6YwG+rjrTj5V9N5WpfygswDf85PfxzDYhjnquYeZiICjO4pX+JxOcnpP6jHZRVfB4e0S46JGeDFqmLyldXyg=="
	tests := []struct {
		name      string
		integrity string
		shasum    string
		want      formats.Digests
	}{
		{"sha512 and shasum", sri512, "820A6CF426D6CB27EA4B0745E45B0D66F5DDA104", formats.Digests{SHA512: sha512hex, SHA1: "820a6cf426d6cb27ea4b0745e45b0d66f5dda104"}},
		{"several entries with options", "sha1-ggps9CbWyyfqSwdF5FsNZvXdoQQ= " + sri512 + "?opt", "", formats.Digests{SHA512: sha512hex, SHA1: "820a6cf426d6cb27ea4b0745e45b0d66f5dda104"}},
		{"shasum only", "", "820a6cf426d6cb27ea4b0745e45b0d66f5dda104", formats.Digests{SHA1: "820a6cf426d6cb27ea4b0745e45b0d66f5dda104"}},
		{"wrong length ignored", "sha512-AAAA", "abc", formats.Digests{}},
		{"unknown algorithm ignored", "sha384-AAAA", "", formats.Digests{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := declaredDigests(tc.integrity, tc.shasum); got != tc.want {
				t.Errorf("declaredDigests = %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := sriSHA512(sha512hex); got != sri512 {
		t.Errorf("sriSHA512 = %s, want %s", got, sri512)
	}
}

func TestMemberEdits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		key  string
		val  string // empty: remove
		want string
	}{
		{"replace keeps layout", `{ "a": 1, "b" : {"x":[1,"}"]}, "c":3 }`, "b", `"B"`, `{ "a": 1, "b" : "B", "c":3 }`},
		{"append", `{"a":1}`, "z", `true`, `{"a":1,"z":true}`},
		{"append to empty", `{ }`, "z", `1`, `{"z":1 }`},
		{"remove first", `{"a":1, "b":2}`, "a", "", `{"b":2}`},
		{"remove middle", `{"a":1,"b":"x\"y","c":3}`, "b", "", `{"a":1,"c":3}`},
		{"remove last", `{"a":1, "b":2 }`, "b", "", `{"a":1 }`},
		{"remove only", `{"a":1}`, "a", "", `{}`},
		{"remove absent", `{"a":1}`, "q", "", `{"a":1}`},
		{"escaped key", `{"a\u0062":1}`, "ab", `2`, `{"a\u0062":2}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			var err error
			if tc.val == "" {
				got, err = removeMember([]byte(tc.in), tc.key)
			} else {
				got, err = setMember([]byte(tc.in), tc.key, []byte(tc.val))
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("result is not valid JSON: %s", got)
			}
		})
	}
	for _, bad := range []string{`[]`, `"x"`, `{"a" 1}`, `{"a":1`, ``} {
		if _, err := setMember([]byte(bad), "a", []byte("1")); err == nil {
			t.Errorf("setMember(%q) succeeded", bad)
		}
	}
}

// demoView is the view of the captured packument, as the engine would merge
// it from one external connection, plus an unlisted and an archived version.
func demoView(t *testing.T) *formats.View {
	t.Helper()
	md, err := parsePackument(demo, readDemo(t))
	if err != nil {
		t.Fatal(err)
	}
	v := &formats.View{Package: demo, Versions: map[string]*formats.ViewVersion{}, Tags: md.Tags, Extra: md.Extra}
	for ver, mv := range md.Versions {
		mv.Status = formats.StatusPublished
		v.Versions[ver] = &formats.ViewVersion{Version: *mv, Repository: "npm-store", Connection: "public:npmjs"}
	}
	for ver, st := range map[string]formats.Status{"1.2.0": formats.StatusUnlisted, "1.3.0": formats.StatusArchived} {
		v.Versions[ver] = &formats.ViewVersion{Version: formats.Version{Version: ver, Status: st, Meta: json.RawMessage(`{"name":"@acme/demo","version":"` + ver + `"}`)}, Repository: "internal"}
	}
	v.Tags["next"] = "1.2.0"
	v.Tags["gone"] = "9.9.9"
	v.Tags["hidden"] = ""
	return v
}

const testBase = "https://stockpile.example/acme/npm/demo-repo"

// renderDemo renders demoView's packument, the full one or the corgi,
// checks its content type and decodes it into v.
func renderDemo(t *testing.T, corgi bool, contentType string, v any) {
	t.Helper()
	doc, err := renderPackument(demoView(t), testBase, corgi)
	if err != nil {
		t.Fatal(err)
	}
	if doc.ContentType != contentType {
		t.Errorf("content type %q, want %q", doc.ContentType, contentType)
	}
	if err := json.Unmarshal(doc.Body, v); err != nil {
		t.Fatalf("%v: %s", err, doc.Body)
	}
}

func TestRenderFull(t *testing.T) {
	raw := readDemo(t)
	var got packument
	renderDemo(t, false, "application/json", &got)
	if got.ID != "@acme/demo" || got.Name != "@acme/demo" || got.Readme != "# demo\n" || got.Rev == "" {
		t.Errorf("top level: %+v", got)
	}
	if diff := cmp.Diff(map[string]string{"latest": "1.1.0", "legacy": "1.0.0"}, got.Tags); diff != "" {
		t.Errorf("dist-tags: tags to unlisted, missing or hidden versions must go (-want +got):\n%s", diff)
	}
	if len(got.Versions) != 2 {
		t.Errorf("versions %v: only Published versions are offered", keys(got.Versions))
	}
	wantTime := map[string]string{"created": "2024-01-01T00:00:00.000Z", "modified": "2024-02-01T00:00:00.000Z", "1.0.0": "2024-01-01T00:00:00.000Z", "1.1.0": "2024-02-01T00:00:00.000Z"}
	if diff := cmp.Diff(wantTime, got.Time); diff != "" {
		t.Errorf("time (-want +got):\n%s", diff)
	}
	// Byte for byte the upstream's version object, but for dist.tarball.
	md, _ := parsePackument(demo, raw)
	for _, ver := range []string{"1.0.0", "1.1.0"} {
		want := bytes.Replace(md.Versions[ver].Meta, []byte("https://upstream.invalid/@acme/demo/-/demo-"+ver+".tgz"), []byte(testBase+"/@acme/demo/-/demo-"+ver+".tgz"), 1)
		if !bytes.Equal(want, got.Versions[ver]) {
			t.Errorf("version %s:\n got %s\nwant %s", ver, got.Versions[ver], want)
		}
	}
}

func TestRenderCorgi(t *testing.T) {
	var got any
	renderDemo(t, true, "application/vnd.npm.install-v1+json", &got)
	// The expected corgi of the reference (§1.7), for this base URL.
	want := map[string]any{
		"name":      "@acme/demo",
		"modified":  "2024-02-01T00:00:00.000Z",
		"dist-tags": map[string]any{"latest": "1.1.0", "legacy": "1.0.0"},
		"versions": map[string]any{
			"1.0.0": map[string]any{
				"name": "@acme/demo", "version": "1.0.0",
				"engines":    map[string]any{"node": ">=18"},
				"deprecated": "1.0.x is unsupported, use 1.1.0",
				"dist": map[string]any{
					"tarball":   testBase + "/@acme/demo/-/demo-1.0.0.tgz",
					"shasum":    "820a6cf426d6cb27ea4b0745e45b0d66f5dda104",
					"integrity": "sha512-Lu6YwG+rjrTj5V9N5WpfygswDf85PfxzDYhjnquYeZiICjO4pX+JxOcnpP6jHZRVfB4e0S46JGeDFqmLyldXyg==",
					"fileCount": 2.0, "unpackedSize": 120.0,
					"signatures": []any{map[string]any{"keyid": "SHA256:fixture-key", "sig": "MEUCIQDfixturefixturefixture"}},
				},
			},
			"1.1.0": map[string]any{
				"name": "@acme/demo", "version": "1.1.0",
				"dependencies":     map[string]any{"left-pad": "^1.3.0"},
				"engines":          map[string]any{"node": ">=18"},
				"os":               []any{"linux", "darwin"},
				"hasInstallScript": true,
				"dist": map[string]any{
					"tarball":   testBase + "/@acme/demo/-/demo-1.1.0.tgz",
					"shasum":    "f2039663c55f4d7de4e0677773972d4c42d865ae",
					"integrity": "sha512-aKWaaItJyWY1u3UlQwCIlX869VpMGvsY5oF9N4x0cnB/aaQU3mgzBMR+dY0XKdFH23v303lZ8hMAsjmZNml6ZQ==",
					"fileCount": 3.0, "unpackedSize": 240.0,
					"signatures": []any{map[string]any{"keyid": "SHA256:fixture-key", "sig": "MEYCIQCfixturefixturefixture"}},
				},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("corgi (-want +got):\n%s", diff)
	}
}

func TestRenderLatestFallback(t *testing.T) {
	mk := func(tags map[string]string, vers ...string) *formats.View {
		v := &formats.View{Package: formats.Package{Format: "npm", Name: "x"}, Versions: map[string]*formats.ViewVersion{}, Tags: tags}
		for _, ver := range vers {
			v.Versions[ver] = &formats.ViewVersion{Version: formats.Version{Version: ver, Status: formats.StatusPublished}}
		}
		return v
	}
	tests := []struct {
		name string
		view *formats.View
		want map[string]string
	}{
		{"no tags", mk(nil, "1.0.0", "1.1.0", "2.0.0-beta.1"), map[string]string{"latest": "1.1.0"}},
		{"latest to a missing version", mk(map[string]string{"latest": "3.0.0", "beta": "2.0.0-beta.1"}, "1.0.0", "2.0.0-beta.1"), map[string]string{"latest": "1.0.0", "beta": "2.0.0-beta.1"}},
		{"prereleases only", mk(nil, "1.0.0-a", "1.0.0-b"), map[string]string{"latest": "1.0.0-b"}},
		{"tag kept", mk(map[string]string{"latest": "1.0.0"}, "1.0.0", "1.1.0"), map[string]string{"latest": "1.0.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, prepare(tc.view).tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := renderPackument(mk(nil), testBase, false); !errors.Is(err, formats.ErrNotFound) {
		t.Errorf("a view without listed versions rendered: %v", err)
	}
}

func TestRenderVersionAndTarballURL(t *testing.T) {
	v := demoView(t)
	tests := []struct {
		name, spec, want string
		err              error
	}{
		{"exact", "1.0.0", "1.0.0", nil},
		{"tag", "latest", "1.1.0", nil},
		{"unlisted by exact version", "1.2.0", "1.2.0", nil},
		{"unlisted by tag", "next", "", formats.ErrNotFound},
		{"archived", "1.3.0", "", formats.ErrNotFound},
		{"missing", "9.0.0", "", formats.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := renderVersion(v, "http://127.0.0.1:4873/acme/npm/r", tc.spec)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			var got struct {
				Version string
				Dist    struct{ Tarball string }
			}
			if err := json.Unmarshal(doc.Body, &got); err != nil {
				t.Fatal(err)
			}
			wantURL := "http://127.0.0.1:4873/acme/npm/r/@acme/demo/-/demo-" + tc.want + ".tgz"
			if got.Version != tc.want || got.Dist.Tarball != wantURL {
				t.Errorf("got version %q tarball %q, want %q %q", got.Version, got.Dist.Tarball, tc.want, wantURL)
			}
		})
	}
	if got := tarballURL("https://h", formats.Package{Format: "npm", Name: "left-pad"}, "1.0.0"); got != "https://h/left-pad/-/left-pad-1.0.0.tgz" {
		t.Errorf("unscoped tarball URL %s", got)
	}
}

func TestAbbreviateInstallScript(t *testing.T) {
	tests := []struct {
		name string
		meta string
		want string
	}{
		{"install script", `{"name":"a","version":"1.0.0","scripts":{"install":"node-gyp rebuild","test":"x"},"readme":"long"}`, `{"name":"a","version":"1.0.0","hasInstallScript":true}`},
		{"test script only", `{"name":"a","version":"1.0.0","scripts":{"test":"x"}}`, `{"name":"a","version":"1.0.0"}`},
		{"kept fields in order", `{"libc":["glibc"],"cpu":["x64"],"peerDependenciesMeta":{"p":{"optional":true}},"dist":{"tarball":"t"},"version":"1.0.0","name":"a","main":"i.js"}`,
			`{"name":"a","version":"1.0.0","peerDependenciesMeta":{"p":{"optional":true}},"dist":{"tarball":"t"},"cpu":["x64"],"libc":["glibc"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := abbreviate([]byte(tc.meta))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

var _ = strings.Contains
