package npm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

func tgzOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var members []formattest.File
	for _, name := range slices.Sorted(maps.Keys(files)) {
		members = append(members, formattest.Text(name, files[name]))
	}
	return formattest.TarGz(members...)
}

func TestDescribe(t *testing.T) {
	meta := `{"name":"@acme/app","version":"1.0.0","description":"An app","homepage":"https://example.test/app",
		"repository":{"type":"git","url":"git+https://example.test/app.git"},"license":"MIT",
		"dependencies":{"left-pad":"^1.3.0","@acme/util":"~1.2.0","fsevents":"^2.0.0"},
		"optionalDependencies":{"fsevents":"^2.0.0"},"devDependencies":{"tap":"^16"},"peerDependencies":{"react":">=18"}}`
	tgz := tgzOf(t, map[string]string{"package/package.json": meta, "package/lib/README.md": "nested", "package/Readme.markdown": "# app\n"})
	opened := ""
	open := func(asset string) (io.ReadCloser, error) {
		opened = asset
		return io.NopCloser(bytes.NewReader(tgz)), nil
	}
	v := &formats.Version{Version: "1.0.0", Meta: []byte(meta), Assets: []formats.AssetRef{{Name: "app-1.0.0.tgz"}}}
	d, err := New().Describe(context.Background(), v, open)
	if err != nil {
		t.Fatal(err)
	}
	want := &formats.Description{
		Summary: "An app", HomePage: "https://example.test/app", SourceCodeRepository: "git+https://example.test/app.git",
		Readme:   "# app\n",
		Licenses: []formats.License{{Name: "MIT"}},
		Dependencies: []formats.Dependency{
			{Namespace: "acme", Package: "util", DependencyType: "regular", VersionRequirement: "~1.2.0"},
			{Package: "left-pad", DependencyType: "regular", VersionRequirement: "^1.3.0"},
			{Package: "tap", DependencyType: "dev", VersionRequirement: "^16"},
			{Package: "react", DependencyType: "peer", VersionRequirement: ">=18"},
			{Package: "fsevents", DependencyType: "optional", VersionRequirement: "^2.0.0"},
		},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("description (-want +got):\n%s", diff)
	}
	if opened != "app-1.0.0.tgz" {
		t.Errorf("opened %q", opened)
	}

	t.Run("readme in the version object, legacy license", func(t *testing.T) {
		v := &formats.Version{Meta: []byte(`{"readme":"# kept","licenses":[{"type":"BSD","url":"u"}],"repository":"github:a/b"}`)}
		d, err := New().Describe(context.Background(), v, func(string) (io.ReadCloser, error) { return nil, errors.New("must not open") })
		if err != nil {
			t.Fatal(err)
		}
		if d.Readme != "# kept" || d.SourceCodeRepository != "github:a/b" || len(d.Licenses) != 1 || d.Licenses[0].Name != "BSD" {
			t.Errorf("description %+v", d)
		}
	})
	t.Run("unreadable tarball leaves the readme empty", func(t *testing.T) {
		v := &formats.Version{Meta: []byte(`{"description":5}`), Assets: []formats.AssetRef{{Name: "x.tgz"}}}
		d, err := New().Describe(context.Background(), v, func(string) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("junk")), nil })
		if err != nil || d.Readme != "" {
			t.Errorf("description %+v, %v", d, err)
		}
	})
}

// TestControlPlane checks what the control plane reads of npm versions
// (through Describe) and that version statuses it sets shape the packument.
func TestControlPlane(t *testing.T) {
	e := newEnv(t, nil)
	e.publish("internal", e.fx["@acme/util@1.1.5"], "latest")
	e.get("app", tarballPath("left-pad-lite", "1.0.0")).must(t, http.StatusOK)
	e.record("app", pkgOf("left-pad-lite"), "1.0.0")
	cp := func(method, path string, body []byte) *result {
		return e.do(method, e.in.URL+"/v1/"+path, body)
	}

	var deps struct {
		Dependencies []formats.Dependency `json:"dependencies"`
	}
	cp(http.MethodPost, "package/version/dependencies?domain=acme&repository=internal&format=npm&namespace=acme&package=util&version=1.1.5", nil).must(t, http.StatusOK).json(t, &deps)
	if diff := cmp.Diff([]formats.Dependency{{Package: "left-pad-lite", DependencyType: "regular", VersionRequirement: "^1.0.0"}}, deps.Dependencies); diff != "" {
		t.Errorf("dependencies (-want +got):\n%s", diff)
	}
	var readme struct{ Readme string }
	cp(http.MethodGet, "package/version/readme?domain=acme&repository=app&format=npm&package=left-pad-lite&version=1.0.0", nil).must(t, http.StatusOK).json(t, &readme)
	if !strings.HasPrefix(readme.Readme, "# left-pad-lite\n\nA fixture package") {
		t.Errorf("readme from the tarball: %.40q", readme.Readme)
	}

	t.Run("unlisted versions leave the packument but stay installable", func(t *testing.T) {
		e.publish("internal", e.fx["@acme/private-lib@1.0.0"], "latest")
		e.publish("internal", e.fx["@acme/private-lib@1.1.0"], "latest")
		cp(http.MethodPost, "package/versions/update_status?domain=acme&repository=internal&format=npm&namespace=acme&package=private-lib",
			[]byte(`{"versions":["1.0.0"],"targetStatus":"Unlisted"}`)).must(t, http.StatusOK)
		for _, repo := range []string{"internal", "app"} {
			if p := e.packument(repo, "@acme%2fprivate-lib"); len(p.Versions) != 1 || p.Versions["1.1.0"] == nil {
				t.Errorf("%s offers %v", repo, keys(p.Versions))
			}
		}
		e.get("internal", "@acme%2fprivate-lib/1.0.0").must(t, http.StatusOK)
		e.get("app", "@acme/private-lib/-/private-lib-1.0.0.tgz").must(t, http.StatusOK)
		cp(http.MethodPost, "package/versions/update_status?domain=acme&repository=internal&format=npm&namespace=acme&package=private-lib",
			[]byte(`{"versions":["1.0.0"],"targetStatus":"Archived"}`)).must(t, http.StatusOK)
		e.get("internal", "@acme%2fprivate-lib/1.0.0").npmError(t, http.StatusNotFound)
	})
}

func TestVersionDocumentRevalidates(t *testing.T) {
	e := newEnv(t, nil)
	e.serveUpstream("left-pad-lite", []string{"1.0.0"}, map[string]string{"latest": "1.0.0"})
	if p := e.packument("app", "left-pad-lite"); len(p.Versions) != 1 {
		t.Fatalf("versions %v", keys(p.Versions))
	}
	e.serveUpstream("left-pad-lite", []string{"1.0.0", "1.1.0", "2.0.0-beta.1"}, map[string]string{"latest": "1.1.0"})
	// The cached packument is still fresh, but an exact version it lacks
	// is asked for again before a 404, and ?write=true always revalidates.
	if p := e.packument("app", "left-pad-lite"); len(p.Versions) != 1 {
		t.Errorf("fresh cache was not used: %v", keys(p.Versions))
	}
	e.get("app", "left-pad-lite/1.1.0").must(t, http.StatusOK)
	if doc := e.writeDoc("app", "left-pad-lite"); len(doc["versions"].(map[string]any)) != 3 {
		t.Errorf("?write=true versions %v", doc["versions"])
	}
	e.get("app", "left-pad-lite/9.9.9").npmError(t, http.StatusNotFound)
}
