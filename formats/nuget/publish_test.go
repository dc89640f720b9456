package nuget_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

// handmade is a package written here, for what nuget pack would refuse to
// make.
func handmade(t *testing.T, nuspecID, nuspecVersion string, extra ...formattest.File) []byte {
	t.Helper()
	ns := `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>
<id>` + nuspecID + `</id><version>` + nuspecVersion + `</version><authors>A</authors><description>Handmade.</description>
</metadata></package>`
	return formattest.Zip(append([]formattest.File{formattest.Text(nuspecID+".nuspec", ns)}, extra...)...)
}

func TestPush(t *testing.T) {
	s := start(t, standardFeed(t), startOptions{})
	tests := []struct {
		name string
		repo string
		data []byte
		raw  bool // the body is the package itself, not multipart
		code int
		has  string // in the answer's body
	}{
		{name: "packed package", repo: "internal", data: privateInternal(t, "0.5.0").data, code: 201},
		{name: "the same version again", repo: "internal", data: privateInternal(t, "0.5.0").data, code: 409, has: "already exists"},
		{name: "the same version spelled otherwise", repo: "internal", data: handmade(t, "contoso.INTERNAL", "0.05.0.0"), code: 409},
		{name: "non-normalised version, raw body", repo: "internal", data: handmade(t, "Contoso.Handmade", "01.02.03.0"), raw: true, code: 201},
		{name: "SemVer 2.0 version", repo: "internal", data: handmade(t, "Contoso.Handmade", "2.0.0-rc.1+git.abc"), code: 201},
		{name: "not a zip", repo: "internal", data: []byte("hello"), code: 400, has: "not a zip"},
		{name: "no nuspec", repo: "internal", data: formattest.Zip(formattest.Text("lib/a.dll", "x")), code: 400, has: "no .nuspec"},
		{name: "path traversal", repo: "internal", data: handmade(t, "Contoso.Evil", "1.0.0", formattest.Text("../../evil.txt", "x")), code: 400, has: "unsafe name"},
		{name: "bad id", repo: "internal", data: handmade(t, "Contoso..Evil", "1.0.0"), code: 400},
		{name: "empty body", repo: "internal", data: nil, raw: true, code: 400},
		{name: "a version the upstream serves", repo: "nuget-store", data: handmade(t, "Contoso.Core", "2.0.0"), code: 409, has: "already available from upstream"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a answer
			if tc.raw {
				a = s.do(http.MethodPut, s.base(tc.repo)+"/v3/package", bytes.NewReader(tc.data), map[string]string{"Content-Type": "application/octet-stream"})
			} else {
				a = s.push(tc.repo, tc.data)
			}
			if a.code != tc.code || !strings.Contains(string(a.body), tc.has) {
				t.Fatalf("%d %s, want %d with %q", a.code, a.body, tc.code, tc.has)
			}
		})
	}

	t.Run("pushed versions are visible at once, normalised", func(t *testing.T) {
		if got := flatVersions(t, s, "internal", "Contoso.Handmade"); !cmp.Equal(got, []string{"1.2.3", "2.0.0-rc.1"}) {
			t.Fatalf("versions %v", got)
		}
		var idx regIndex
		s.getJSON(s.base("app")+"/v3/registration-semver2/contoso.handmade/index.json", &idx)
		var got []string
		for _, l := range idx.Items[0].Items {
			got = append(got, l.CatalogEntry.PackageID+" "+l.CatalogEntry.Version)
		}
		if !cmp.Equal(got, []string{"Contoso.Handmade 1.2.3", "Contoso.Handmade 2.0.0-rc.1+git.abc"}) {
			t.Fatalf("catalog entries %v", got)
		}
		a := s.get(s.base("app") + "/v3/flatcontainer/contoso.handmade/1.2.3/contoso.handmade.1.2.3.nupkg")
		if a.code != 200 || !bytes.Equal(a.body, handmade(t, "Contoso.Handmade", "01.02.03.0")) {
			t.Fatalf("download: %d", a.code)
		}
	})

	t.Run("without credentials", func(t *testing.T) {
		a := s.do(http.MethodPut, s.base("internal")+"/v3/package/", bytes.NewReader(handmade(t, "Contoso.Anon", "1.0.0")), map[string]string{"Authorization": ""})
		if a.code != 401 || !strings.Contains(strings.Join(a.header.Values("WWW-Authenticate"), ","), "Basic") {
			t.Fatalf("%d %v", a.code, a.header)
		}
	})

	t.Run("methods", func(t *testing.T) {
		for _, m := range []struct {
			method, path string
			code         int
		}{
			{http.MethodGet, "/v3/package", 405},
			{http.MethodPost, "/v3/flatcontainer/contoso.core/index.json", 405},
			{http.MethodPut, "/v3/package/contoso.core/2.0.0", 405},
			{http.MethodGet, "/v3/nothing", 404},
			{http.MethodGet, "/index.json", 404},
		} {
			if a := s.do(m.method, s.base("internal")+m.path, nil, nil); a.code != m.code {
				t.Errorf("%s %s: %d, want %d", m.method, m.path, a.code, m.code)
			}
		}
	})
}

func TestDeleteUnlistsAndRelist(t *testing.T) {
	s := start(t, standardFeed(t), startOptions{})
	for _, v := range []string{"0.5.0", "0.6.0"} {
		if a := s.push("internal", privateInternal(t, v).data); a.code != 201 {
			t.Fatalf("push %s: %d %s", v, a.code, a.body)
		}
	}
	pkgURL := s.base("internal") + "/v3/package/Contoso.Internal/0.6.0"
	listed := func() map[string]bool {
		var idx regIndex
		s.getJSON(s.base("app")+"/v3/registration-semver2/contoso.internal/index.json", &idx)
		out := map[string]bool{}
		for _, p := range idx.Items {
			for _, l := range p.Items {
				out[l.CatalogEntry.Version] = l.CatalogEntry.Listed
			}
		}
		return out
	}
	searchVersions := func() []string {
		var res struct {
			Data []struct {
				Versions []struct{ Version string } `json:"versions"`
			} `json:"data"`
		}
		s.getJSON(s.base("app")+"/v3/query?q=packageid:contoso.internal", &res)
		var out []string
		for _, d := range res.Data {
			for _, v := range d.Versions {
				out = append(out, v.Version)
			}
		}
		return out
	}

	steps := []struct {
		name       string
		method     string
		url        string
		code       int
		listed     map[string]bool
		searchable []string
	}{
		{"delete unlists", http.MethodDelete, pkgURL, 204, map[string]bool{"0.5.0": true, "0.6.0": false}, []string{"0.5.0"}},
		{"delete again is harmless", http.MethodDelete, pkgURL, 204, map[string]bool{"0.5.0": true, "0.6.0": false}, []string{"0.5.0"}},
		{"relist", http.MethodPost, pkgURL, 200, map[string]bool{"0.5.0": true, "0.6.0": true}, []string{"0.5.0", "0.6.0"}},
		{"delete through the V2 path, normalised version", http.MethodDelete, s.base("internal") + "/api/v2/package/contoso.internal/0.06.0.0", 204, map[string]bool{"0.5.0": true, "0.6.0": false}, []string{"0.5.0"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if a := s.do(st.method, st.url, nil, map[string]string{"X-NuGet-ApiKey": s.token}); a.code != st.code {
				t.Fatalf("%s: %d %s", st.method, a.code, a.body)
			}
			if diff := cmp.Diff(st.listed, listed()); diff != "" {
				t.Fatalf("listed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(st.searchable, searchVersions()); diff != "" {
				t.Fatalf("search (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("an unlisted version stays in the version list and downloadable", func(t *testing.T) {
		if got := flatVersions(t, s, "app", "contoso.internal"); !cmp.Equal(got, []string{"0.5.0", "0.6.0"}) {
			t.Fatalf("versions %v", got)
		}
		if a := s.get(s.base("app") + "/v3/flatcontainer/contoso.internal/0.6.0/contoso.internal.0.6.0.nupkg"); a.code != 200 {
			t.Fatalf("download: %d", a.code)
		}
	})
	t.Run("archived and disposed versions are left out", func(t *testing.T) {
		for v, st := range map[string]formats.Status{"0.5.0": formats.StatusArchived, "0.6.0": formats.StatusDisposed} {
			err := s.in.Server.Resolver().UpdateVersion(context.Background(), formats.RepoRef{Domain: "acme", Repository: "internal"},
				formats.Package{Format: "nuget", Name: "contoso.internal"}, v, func(ver *formats.Version) error { ver.Status = st; return nil })
			if err != nil {
				t.Fatal(err)
			}
		}
		if a := s.get(s.base("internal") + "/v3/flatcontainer/contoso.internal/index.json"); a.code != 404 {
			t.Fatalf("version list: %d %s", a.code, a.body)
		}
		if a := s.get(s.base("internal") + "/v3/flatcontainer/contoso.internal/0.5.0/contoso.internal.0.5.0.nupkg"); a.code != 404 {
			t.Fatalf("archived download: %d", a.code)
		}
		if a := s.get(s.base("internal") + "/v3/registration-semver2/contoso.internal/index.json"); a.code != 404 {
			t.Fatalf("registration: %d %s", a.code, a.body)
		}
	})
	t.Run("not in this repository", func(t *testing.T) {
		for _, u := range []string{s.base("internal") + "/v3/package/contoso.internal/7.0.0", s.base("team") + "/v3/package/contoso.internal/0.5.0"} {
			if a := s.do(http.MethodDelete, u, nil, nil); a.code != 404 {
				t.Errorf("DELETE %s: %d %s", u, a.code, a.body)
			}
		}
	})
}

func TestSearch(t *testing.T) {
	s := start(t, standardFeed(t), startOptions{})
	// Search covers what the repositories hold: cache a few upstream
	// packages, push one.
	for _, u := range []string{
		"contoso.widgets/2.0.0/contoso.widgets.2.0.0.nupkg",
		"contoso.widgets/1.1.0-beta.1/contoso.widgets.1.1.0-beta.1.nupkg",
		"contoso.core/2.0.0/contoso.core.2.0.0.nupkg",
	} {
		if a := s.get(s.base("app") + "/v3/flatcontainer/" + u); a.code != 200 {
			t.Fatalf("warm-up %s: %d", u, a.code)
		}
	}
	if a := s.push("internal", handmade(t, "Acme.Tools", "1.0.0-beta")); a.code != 201 {
		t.Fatalf("push: %d %s", a.code, a.body)
	}
	type hit struct {
		ID       string
		Version  string
		Versions []string
	}
	tests := []struct {
		name  string
		query string
		total int
		want  []hit
	}{
		// Contoso.Widgets' only listed stable version, 2.0.0+build.7, is
		// SemVer 2.0 (1.0.0 is unlisted): SemVer 1.0 clients do not see it.
		{"everything, stable SemVer 1.0", "", 1, []hit{
			{"Contoso.Core", "2.0.0", []string{"1.1.0", "2.0.0"}}}},
		{"stable SemVer 2.0", "?semVerLevel=2.0.0", 2, []hit{
			{"Contoso.Core", "2.0.0", []string{"1.1.0", "2.0.0"}},
			{"Contoso.Widgets", "2.0.0+build.7", []string{"2.0.0+build.7"}}}},
		{"pre-releases and SemVer 2.0", "?prerelease=true&semVerLevel=2.0.0", 3, []hit{
			{"Acme.Tools", "1.0.0-beta", []string{"1.0.0-beta"}},
			{"Contoso.Core", "2.0.0", []string{"1.1.0", "2.0.0"}},
			{"Contoso.Widgets", "2.0.0+build.7", []string{"1.1.0-beta.1", "2.0.0+build.7"}}}},
		{"by words of the description", "?q=widget+helpers&semVerLevel=2.0.0", 1, []hit{
			{"Contoso.Widgets", "2.0.0+build.7", []string{"2.0.0+build.7"}}}},
		{"exact id first", "?q=contoso.widgets&semVerLevel=2.0.0&prerelease=true", 1, []hit{
			{"Contoso.Widgets", "2.0.0+build.7", []string{"1.1.0-beta.1", "2.0.0+build.7"}}}},
		{"paging", "?q=contoso&semVerLevel=2.0.0&skip=1&take=1", 2, []hit{
			{"Contoso.Widgets", "2.0.0+build.7", []string{"2.0.0+build.7"}}}},
		{"no match", "?q=nothing", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var res struct {
				TotalHits int `json:"totalHits"`
				Data      []struct {
					ID           string `json:"id"`
					Version      string `json:"version"`
					Registration string `json:"registration"`
					Versions     []struct {
						Version string `json:"version"`
						ID      string `json:"@id"`
					} `json:"versions"`
				} `json:"data"`
			}
			s.getJSON(s.base("app")+"/v3/query"+tc.query, &res)
			var got []hit
			for _, d := range res.Data {
				h := hit{ID: d.ID, Version: d.Version}
				for _, v := range d.Versions {
					h.Versions = append(h.Versions, v.Version)
					if !strings.HasPrefix(v.ID, s.base("app")+"/v3/registration") {
						t.Errorf("version @id %s", v.ID)
					}
				}
				if !strings.HasPrefix(d.Registration, s.base("app")+"/v3/registration") {
					t.Errorf("registration %s", d.Registration)
				}
				got = append(got, h)
			}
			if res.TotalHits != tc.total {
				t.Errorf("totalHits %d, want %d", res.TotalHits, tc.total)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("results (-want +got):\n%s", diff)
			}
		})
	}

	auto := []struct {
		name  string
		query string
		want  []string
	}{
		{"ids", "?q=contoso", []string{"Contoso.Core"}},
		{"ids starting with the text first", "?q=c&prerelease=true&semVerLevel=2.0.0", []string{"Contoso.Core", "Contoso.Widgets", "Acme.Tools"}},
		{"versions of an id", "?id=Contoso.Widgets&prerelease=true&semVerLevel=2.0.0", []string{"1.1.0-beta.1", "2.0.0+build.7"}},
		{"versions of an unknown id", "?id=contoso.nothing", []string{}},
	}
	for _, tc := range auto {
		t.Run("autocomplete: "+tc.name, func(t *testing.T) {
			var res struct {
				Data []string `json:"data"`
			}
			s.getJSON(s.base("app")+"/v3/autocomplete"+tc.query, &res)
			if diff := cmp.Diff(tc.want, res.Data); diff != "" {
				t.Fatalf("data (-want +got):\n%s", diff)
			}
		})
	}
	if a := s.get(s.base("app") + "/v3/query?take=x"); a.code != 400 {
		t.Errorf("bad take: %d", a.code)
	}
}

func TestControlPlane(t *testing.T) {
	s := start(t, standardFeed(t), startOptions{open: true})
	ns := `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>
<id>Contoso.Gadgets</id><version>1.0.0</version><authors>A</authors><description>Gadgets.</description>
<projectUrl>https://example.test/g</projectUrl><license type="expression">MIT</license>
<dependencies><group targetFramework="net8.0"><dependency id="Contoso.Core" version="[2.0.0, )"/></group></dependencies>
</metadata></package>`
	if a := s.push("internal", formattest.Zip(formattest.Text("Contoso.Gadgets.nuspec", ns))); a.code != 201 {
		t.Fatalf("push: %d %s", a.code, a.body)
	}
	if a := s.do(http.MethodDelete, s.base("internal")+"/v3/package/contoso.gadgets/1.0.0", nil, nil); a.code != 204 {
		t.Fatalf("delete: %d %s", a.code, a.body)
	}
	q := "?domain=acme&repository=internal&format=nuget&package=Contoso.GADGETS"
	var versions struct {
		Package  string `json:"package"`
		Versions []struct {
			Version string `json:"version"`
			Status  string `json:"status"`
		} `json:"versions"`
	}
	getJSONMethod(t, s, http.MethodPost, s.in.URL+"/v1/package/versions"+q, &versions)
	if versions.Package != "contoso.gadgets" || len(versions.Versions) != 1 || versions.Versions[0].Version != "1.0.0" || versions.Versions[0].Status != "Unlisted" {
		t.Fatalf("ListPackageVersions: %+v", versions)
	}
	var deps struct {
		Dependencies []struct {
			Package            string `json:"package"`
			VersionRequirement string `json:"versionRequirement"`
		} `json:"dependencies"`
	}
	getJSONMethod(t, s, http.MethodPost, s.in.URL+"/v1/package/version/dependencies"+q+"&version=1.0.0", &deps)
	if len(deps.Dependencies) != 1 || deps.Dependencies[0].Package != "contoso.core" || deps.Dependencies[0].VersionRequirement != "[2.0.0, )" {
		t.Fatalf("ListPackageVersionDependencies: %+v", deps)
	}
	var desc map[string]any
	getJSONMethod(t, s, http.MethodGet, s.in.URL+"/v1/package/version"+q+"&version=1.0.0", &desc)
	body, _ := json.Marshal(desc)
	for _, want := range []string{`"summary":"Gadgets."`, `"homePage":"https://example.test/g"`, `"MIT"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("DescribePackageVersion lacks %s: %s", want, body)
		}
	}
}

func getJSONMethod(t *testing.T, s *stockpile, method, url string, v any) {
	t.Helper()
	a := s.do(method, url, nil, nil)
	if a.code != 200 {
		t.Fatalf("%s %s: %d %s", method, url, a.code, a.body)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
}
