package nuget_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/nuget"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// stockpile is a running Stockpile whose domain acme has
// app → (internal, team → nuget-store → public:nuget-org = feed), with
// tokens required.
type stockpile struct {
	t     *testing.T
	in    *proxytest.Instance
	feed  *fakeFeed
	token string
	// replicas are the servers behind in's load balancer (startOptions.replicas).
	replicas []*proxytest.Instance
}

type startOptions struct {
	format *nuget.Format
	conn   upstream.Options
	open   bool // no access keys: the control plane needs no signature
	edit   func(*proxy.Config)
	// replicas, when > 0, starts that many replicas on PostgreSQL and
	// SeaweedFS behind a load balancer, in being its front.
	replicas int
}

func start(t *testing.T, feed *fakeFeed, o startOptions) *stockpile {
	t.Helper()
	if o.format == nil {
		o.format = nuget.New()
	}
	o.conn.URL = feed.srv.URL + "/v3/index.json"
	if o.conn.Retries == 0 {
		o.conn.Retries = 1 // the fewest: keeps fault tests short
	}
	cfg := proxy.Defaults()
	if !o.open {
		cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIATEST", Secret: "s3cret"}}
	}
	cfg.Connections = map[string]upstream.Options{"public:nuget-org": o.conn}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "app", Upstreams: []string{"internal", "team"}},
		{Name: "team", Upstreams: []string{"nuget-store"}},
		{Name: "nuget-store", ExternalConnection: "public:nuget-org"},
		{Name: "internal"},
	}}}
	if o.edit != nil {
		o.edit(&cfg)
	}
	po := proxytest.Options{Config: &cfg, Formats: []formats.Format{o.format}, OnDisk: true}
	if o.replicas > 0 {
		po.OpenStore = engines.SharedStore(t)
		front, replicas := proxytest.StartReplicas(t, po, o.replicas)
		return &stockpile{t: t, in: front, feed: feed, token: front.Token("acme"), replicas: replicas}
	}
	in := proxytest.Start(t, po)
	return &stockpile{t: t, in: in, feed: feed, token: in.Token("acme")}
}

// restart restarts the server, or every replica.
func (s *stockpile) restart() {
	s.t.Helper()
	if s.replicas == nil {
		s.in.Restart()
		return
	}
	for _, r := range s.replicas {
		r.Restart()
	}
}

// base is the NuGet endpoint of a repository.
func (s *stockpile) base(repo string) string { return s.in.URL + "/acme/nuget/" + repo }

type answer struct {
	code   int
	header http.Header
	body   []byte
}

func (s *stockpile) do(method, url string, body io.Reader, header map[string]string) answer {
	s.t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		s.t.Fatal(err)
	}
	req.SetBasicAuth("aws", s.token)
	for k, v := range header {
		if k == "Authorization" && v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

func (s *stockpile) get(url string) answer { s.t.Helper(); return s.do(http.MethodGet, url, nil, nil) }

// searchVersions returns the versions search in repo lists for the package
// id (pre-releases and SemVer 2.0 included), as NuGet clients read them.
func (s *stockpile) searchVersions(repo, id string) []string {
	var res struct {
		Data []struct {
			Versions []struct{ Version string } `json:"versions"`
		} `json:"data"`
	}
	s.getJSON(s.base(repo)+"/v3/query?q=packageid:"+id+"&prerelease=true&semVerLevel=2.0.0", &res)
	var out []string
	for _, d := range res.Data {
		for _, v := range d.Versions {
			out = append(out, v.Version)
		}
	}
	return out
}

// getJSON fetches a document that must be there.
func (s *stockpile) getJSON(url string, v any) {
	s.t.Helper()
	a := s.get(url)
	if a.code != 200 {
		s.t.Fatalf("GET %s: %d %s", url, a.code, a.body)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		s.t.Fatalf("GET %s: %v\n%s", url, err, a.body)
	}
}

// push sends a package as nuget.exe does: PUT, multipart, X-NuGet-ApiKey.
func (s *stockpile) push(repo string, data []byte) answer {
	s.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("package", "package.nupkg")
	w.Write(data)
	mw.Close()
	return s.do(http.MethodPut, s.base(repo)+"/v3/package/", &buf, map[string]string{
		"Content-Type": mw.FormDataContentType(), "X-NuGet-ApiKey": s.token, "Authorization": "",
	})
}

// held reports whether a repository stores a version.
func (s *stockpile) held(repo, id, key string) bool {
	s.t.Helper()
	r, err := s.in.Server.Registry().Repository("acme", repo)
	if err != nil {
		s.t.Fatal(err)
	}
	rec, err := s.in.Server.Resolver().VersionRecord(context.Background(), "acme", r.ID, formats.Package{Format: "nuget", Name: strings.ToLower(id)}, key)
	if err != nil {
		s.t.Fatal(err)
	}
	return rec != nil
}

func flatVersions(t *testing.T, s *stockpile, repo, id string) []string {
	t.Helper()
	var doc struct {
		Versions []string `json:"versions"`
	}
	s.getJSON(s.base(repo)+"/v3/flatcontainer/"+id+"/index.json", &doc)
	return doc.Versions
}

// urlsIn collects every string of a JSON document that looks like a URL.
func urlsIn(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "http://") || strings.HasPrefix(x, "https://") {
			out = append(out, x)
		}
	case []any:
		for _, e := range x {
			out = append(out, urlsIn(e)...)
		}
	case map[string]any:
		for _, e := range x {
			out = append(out, urlsIn(e)...)
		}
	}
	return out
}

func TestServiceIndex(t *testing.T) {
	s := start(t, standardFeed(t), startOptions{})
	var doc struct {
		Version   string `json:"version"`
		Resources []struct {
			ID            string `json:"@id"`
			Type          string `json:"@type"`
			ClientVersion string `json:"clientVersion"`
		} `json:"resources"`
	}
	s.getJSON(s.base("app")+"/v3/index.json", &doc)
	got := map[string]string{}
	for _, r := range doc.Resources {
		got[r.Type] = strings.TrimPrefix(r.ID, s.base("app"))
		if r.Type == "RegistrationsBaseUrl/Versioned" && r.ClientVersion != "4.3.0-alpha" {
			t.Errorf("RegistrationsBaseUrl/Versioned has clientVersion %q", r.ClientVersion)
		}
	}
	want := map[string]string{
		"PackageBaseAddress/3.0.0":             "/v3/flatcontainer/",
		"RegistrationsBaseUrl":                 "/v3/registration/",
		"RegistrationsBaseUrl/3.0.0-rc":        "/v3/registration/",
		"RegistrationsBaseUrl/3.0.0-beta":      "/v3/registration/",
		"RegistrationsBaseUrl/3.4.0":           "/v3/registration/",
		"RegistrationsBaseUrl/3.6.0":           "/v3/registration-semver2/",
		"RegistrationsBaseUrl/Versioned":       "/v3/registration-semver2/",
		"SearchQueryService":                   "/v3/query",
		"SearchQueryService/3.0.0-rc":          "/v3/query",
		"SearchQueryService/3.0.0-beta":        "/v3/query",
		"SearchQueryService/3.5.0":             "/v3/query",
		"SearchAutocompleteService":            "/v3/autocomplete",
		"SearchAutocompleteService/3.0.0-rc":   "/v3/autocomplete",
		"SearchAutocompleteService/3.0.0-beta": "/v3/autocomplete",
		"SearchAutocompleteService/3.5.0":      "/v3/autocomplete",
		"PackagePublish/2.0.0":                 "/v3/package",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("resources (-want +got):\n%s", diff)
	}
	if doc.Version != "3.0.0" {
		t.Fatalf("version %q", doc.Version)
	}
	// Without credentials: a Basic challenge, which nuget.exe needs
	// before it sends any.
	a := s.do(http.MethodGet, s.base("app")+"/v3/index.json", nil, map[string]string{"Authorization": ""})
	if a.code != 401 || !strings.Contains(strings.Join(a.header.Values("WWW-Authenticate"), ","), "Basic realm=") {
		t.Fatalf("anonymous: %d %v", a.code, a.header.Values("WWW-Authenticate"))
	}
}

func TestFlatContainer(t *testing.T) {
	s := start(t, standardFeed(t), startOptions{})
	nuspecOf := func(b *built) string {
		zr, err := zip.NewReader(bytes.NewReader(b.data), int64(len(b.data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, ".nuspec") {
				rc, _ := f.Open()
				raw, _ := io.ReadAll(rc)
				rc.Close()
				return string(raw)
			}
		}
		t.Fatal("no nuspec")
		return ""
	}
	flat := s.base("app") + "/v3/flatcontainer/"
	tests := []struct {
		name   string
		method string
		path   string
		code   int
		body   string
	}{
		{"versions: unlisted kept, build metadata stripped, ascending", "GET", "contoso.widgets/index.json", 200, `{"versions":["1.0.0","1.1.0-beta.1","2.0.0"]}`},
		{"versions: id matched case-insensitively, upstream's 1.01.0.0 normalised", "GET", "Contoso.Core/index.json", 200, `{"versions":["1.1.0","2.0.0"]}`},
		{"versions: pre-release label lower-cased", "GET", "contoso.many/index.json", 200, `{"versions":["1.0.0","1.1.0","2.0.0-alpha"]}`},
		{"versions: unknown package", "GET", "contoso.nothing/index.json", 404, ""},
		{"versions: not an id", "GET", "-bad-/index.json", 404, ""},
		{"package by its normalised path", "GET", "contoso.core/1.1.0/contoso.core.1.1.0.nupkg", 200, string(coreV1(t).data)},
		{"package by a non-normalised version", "GET", "contoso.core/1.01.0.0/contoso.core.1.01.0.0.nupkg", 200, string(coreV1(t).data)},
		{"package with the id's case", "GET", "Contoso.Widgets/1.1.0-BETA.1/Contoso.Widgets.1.1.0-beta.1.nupkg", 200, string(widgetsBeta(t).data)},
		{"package of a SemVer 2.0 version with build metadata", "GET", "contoso.widgets/2.0.0/contoso.widgets.2.0.0.nupkg", 200, string(widgetsV2(t).data)},
		{"unlisted package stays downloadable", "GET", "contoso.widgets/1.0.0/contoso.widgets.1.0.0.nupkg", 200, string(widgetsV1(t).data)},
		{"package HEAD", "HEAD", "contoso.core/2.0.0/contoso.core.2.0.0.nupkg", 200, ""},
		{"nuspec, byte for byte", "GET", "contoso.widgets/2.0.0/contoso.widgets.nuspec", 200, nuspecOf(widgetsV2(t))},
		{"nuspec HEAD", "HEAD", "contoso.widgets/2.0.0/contoso.widgets.nuspec", 200, ""},
		{"missing version", "GET", "contoso.core/3.0.0/contoso.core.3.0.0.nupkg", 404, ""},
		{"file of another package", "GET", "contoso.core/2.0.0/contoso.widgets.2.0.0.nupkg", 404, ""},
		{"bad version", "GET", "contoso.core/1.x/contoso.core.1.x.nupkg", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := s.do(tc.method, flat+tc.path, nil, nil)
			if a.code != tc.code {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, a.code, tc.code, a.body)
			}
			if tc.code == 200 && string(a.body) != tc.body {
				t.Fatalf("%s %s: body differs:\n%.300s\nwant\n%.300s", tc.method, tc.path, a.body, tc.body)
			}
		})
	}
}

// regLeaf is what the tests read of a registration leaf.
type regLeaf struct {
	ID             string `json:"@id"`
	PackageContent string `json:"packageContent"`
	CatalogEntry   struct {
		ID               string `json:"@id"`
		PackageID        string `json:"id"`
		Version          string `json:"version"`
		Listed           bool   `json:"listed"`
		Published        string `json:"published"`
		PackageContent   string `json:"packageContent"`
		IconURL          string `json:"iconUrl"`
		Description      string `json:"description"`
		DependencyGroups []struct {
			TargetFramework string `json:"targetFramework"`
			Dependencies    []struct {
				ID           string `json:"id"`
				Range        string `json:"range"`
				Registration string `json:"registration"`
			} `json:"dependencies"`
		} `json:"dependencyGroups"`
	} `json:"catalogEntry"`
}

type regPage struct {
	ID     string    `json:"@id"`
	Count  int       `json:"count"`
	Lower  string    `json:"lower"`
	Upper  string    `json:"upper"`
	Parent string    `json:"parent"`
	Items  []regLeaf `json:"items"`
}

type regIndex struct {
	ID    string    `json:"@id"`
	Count int       `json:"count"`
	Items []regPage `json:"items"`
}

func TestRegistration(t *testing.T) {
	s := start(t, standardFeed(t), startOptions{})
	base := s.base("app")
	type ver struct {
		Version string
		Listed  bool
	}
	tests := []struct {
		name string
		hive string
		id   string
		want []ver
	}{
		{"SemVer 2.0 hive: every version, full version strings", "registration-semver2", "Contoso.Widgets",
			[]ver{{"1.0.0", false}, {"1.1.0-beta.1", true}, {"2.0.0+build.7", true}}},
		{"SemVer 1.0 hive: no dotted label, no build metadata", "registration", "contoso.widgets",
			[]ver{{"1.0.0", false}}},
		{"normalised upstream version", "registration", "contoso.core",
			[]ver{{"1.1.0", true}, {"2.0.0", true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var idx regIndex
			s.getJSON(base+"/v3/"+tc.hive+"/"+tc.id+"/index.json", &idx)
			var got []ver
			for _, p := range idx.Items {
				if p.Parent != idx.ID || len(p.Items) != p.Count {
					t.Fatalf("inlined page %s: parent %q, %d items, count %d", p.ID, p.Parent, len(p.Items), p.Count)
				}
				for _, l := range p.Items {
					got = append(got, ver{l.CatalogEntry.Version, l.CatalogEntry.Listed})
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("versions (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("catalog entries point at Stockpile", func(t *testing.T) {
		var raw any
		s.getJSON(base+"/v3/registration-semver2/contoso.widgets/index.json", &raw)
		for _, u := range urlsIn(raw) {
			if !strings.HasPrefix(u, base+"/v3/") {
				t.Errorf("URL outside the repository: %s", u)
			}
		}
		var idx regIndex
		s.getJSON(base+"/v3/registration-semver2/contoso.widgets/index.json", &idx)
		leaf := idx.Items[0].Items[2]
		e := leaf.CatalogEntry
		if e.PackageID != "Contoso.Widgets" || e.Description != "Widget helpers." || e.IconURL != "" {
			t.Errorf("entry: id %q, description %q, iconUrl %q", e.PackageID, e.Description, e.IconURL)
		}
		wantContent := base + "/v3/flatcontainer/contoso.widgets/2.0.0/contoso.widgets.2.0.0.nupkg"
		if leaf.PackageContent != wantContent || e.PackageContent != wantContent {
			t.Errorf("packageContent %q / %q, want %q", leaf.PackageContent, e.PackageContent, wantContent)
		}
		if len(e.DependencyGroups) != 1 || len(e.DependencyGroups[0].Dependencies) != 1 {
			t.Fatalf("dependency groups: %+v", e.DependencyGroups)
		}
		d := e.DependencyGroups[0].Dependencies[0]
		if d.ID != "Contoso.Core" || d.Range != "[1.1.0, )" || d.Registration != base+"/v3/registration-semver2/contoso.core/index.json" {
			t.Errorf("dependency %+v", d)
		}
		unlisted := idx.Items[0].Items[0].CatalogEntry
		if unlisted.Listed || !strings.HasPrefix(unlisted.Published, "1900-01-01") {
			t.Errorf("unlisted version: listed %v, published %q", unlisted.Listed, unlisted.Published)
		}
		// The leaf and the catalog entry are served where they are named.
		var l struct {
			CatalogEntry string `json:"catalogEntry"`
			Listed       bool   `json:"listed"`
			Registration string `json:"registration"`
		}
		s.getJSON(leaf.ID, &l)
		if !l.Listed || l.Registration != idx.ID {
			t.Errorf("leaf %s: %+v", leaf.ID, l)
		}
		var ce struct {
			Version string `json:"version"`
		}
		s.getJSON(l.CatalogEntry, &ce)
		if ce.Version != "2.0.0+build.7" {
			t.Errorf("catalog entry %s: version %q", l.CatalogEntry, ce.Version)
		}
	})

	t.Run("the upstream's SemVer 2.0 gzip hive is read, not the others", func(t *testing.T) {
		if n := s.feed.srv.Hits("/v3/registration5-gz-semver2/contoso.widgets/index.json"); n != 1 {
			t.Errorf("gz semver2 hive hits %d, want 1", n)
		}
		if n := s.feed.srv.Hits("/v3/registration5-semver1/contoso.widgets/index.json"); n != 0 {
			t.Errorf("semver1 hive hits %d, want 0", n)
		}
	})

	t.Run("gzip, validators, HEAD", func(t *testing.T) {
		u := base + "/v3/registration-semver2/contoso.widgets/index.json"
		plain := s.get(u)
		gz := s.do(http.MethodGet, u, nil, map[string]string{"Accept-Encoding": "gzip"})
		if gz.code != 200 || gz.header.Get("Content-Encoding") != "gzip" || !bytes.HasPrefix(gz.body, []byte{0x1f, 0x8b}) {
			t.Fatalf("gzip: %d %q", gz.code, gz.header.Get("Content-Encoding"))
		}
		etag := plain.header.Get("ETag")
		if a := s.do(http.MethodGet, u, nil, map[string]string{"If-None-Match": etag}); etag == "" || a.code != 304 {
			t.Fatalf("If-None-Match %s: %d", etag, a.code)
		}
		for _, h := range []string{u, base + "/v3/index.json", base + "/v3/flatcontainer/contoso.widgets/index.json"} {
			if a := s.do(http.MethodHead, h, nil, nil); a.code != 200 || len(a.body) != 0 || a.header.Get("Content-Length") == "" {
				t.Errorf("HEAD %s: %d, %d bytes, Content-Length %q", h, a.code, len(a.body), a.header.Get("Content-Length"))
			}
		}
	})

	t.Run("unknown package", func(t *testing.T) {
		if a := s.get(base + "/v3/registration-semver2/contoso.nothing/index.json"); a.code != 404 {
			t.Fatalf("%d %s", a.code, a.body)
		}
	})
}

func TestRegistrationPaging(t *testing.T) {
	// Stockpile pages by 2 and inlines up to 2 versions; the fake upstream
	// pages Contoso.Many by 2 on separate, mixed-case page URLs.
	s := start(t, standardFeed(t), startOptions{format: nuget.NewWithOptions(nuget.Options{PageSize: 2, InlineLimit: 2})})
	base := s.base("app")
	var idx regIndex
	s.getJSON(base+"/v3/registration-semver2/Contoso.Many/index.json", &idx)
	type bounds struct{ Lower, Upper, ID string }
	var got []bounds
	for _, p := range idx.Items {
		if len(p.Items) != 0 || p.Parent != "" {
			t.Fatalf("page %s is inlined although the package is paged", p.ID)
		}
		got = append(got, bounds{p.Lower, p.Upper, p.ID})
	}
	pg := base + "/v3/registration-semver2/contoso.many/page/"
	want := []bounds{{"1.0.0", "1.1.0", pg + "1.0.0/1.1.0.json"}, {"2.0.0-alpha", "2.0.0-alpha", pg + "2.0.0-alpha/2.0.0-alpha.json"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("pages (-want +got):\n%s", diff)
	}
	var versions []string
	for _, b := range got {
		var p regPage
		s.getJSON(b.ID, &p)
		if p.Parent != idx.ID || p.Count != len(p.Items) {
			t.Fatalf("page %s: parent %q count %d items %d", b.ID, p.Parent, p.Count, len(p.Items))
		}
		for _, l := range p.Items {
			versions = append(versions, l.CatalogEntry.Version)
		}
	}
	if diff := cmp.Diff([]string{"1.0.0", "1.1.0", "2.0.0-Alpha"}, versions); diff != "" {
		t.Fatalf("versions across pages (-want +got):\n%s", diff)
	}
	// Upstream pages were fetched once each, at their URLs verbatim.
	for _, p := range []string{"/v3/registration5-gz-semver2/contoso.many/Page/1.0.0/1.1.0.json", "/v3/registration5-gz-semver2/contoso.many/Page/2.0.0-Alpha/2.0.0-Alpha.json"} {
		if n := s.feed.srv.Hits(p); n != 1 {
			t.Errorf("upstream page %s: %d hits, want 1", p, n)
		}
	}
	// A page outside the versions is absent; a small package is inlined.
	if a := s.get(pg + "3.0.0/4.0.0.json"); a.code != 404 {
		t.Errorf("empty page: %d", a.code)
	}
	var small regIndex
	s.getJSON(base+"/v3/registration-semver2/contoso.core/index.json", &small)
	if len(small.Items) != 1 || len(small.Items[0].Items) != 2 {
		t.Errorf("small package: %+v", small)
	}
}

func TestRetentionAndIntegrity(t *testing.T) {
	feed := standardFeed(t)
	tampered := pack(t, spec{id: "Contoso.Tampered", version: "1.0.0"}, "1.0.0")
	feed.badHash["contoso.tampered/1.0.0"] = true
	feed.add(tampered)
	s := start(t, feed, startOptions{})
	flat := s.base("app") + "/v3/flatcontainer/"

	b := widgetsV2(t)
	for i := 0; i < 2; i++ {
		if a := s.get(flat + "contoso.widgets/2.0.0/contoso.widgets.2.0.0.nupkg"); a.code != 200 || !bytes.Equal(a.body, b.data) {
			t.Fatalf("download %d: %d", i, a.code)
		}
	}
	if n := feed.srv.Hits(feed.nupkgPath(b)); n != 1 {
		t.Errorf("upstream package hits %d, want 1", n)
	}
	got := map[string]bool{}
	for _, repo := range []string{"app", "internal", "team", "nuget-store"} {
		got[repo] = s.held(repo, "contoso.widgets", "2.0.0")
	}
	if diff := cmp.Diff(map[string]bool{"app": true, "internal": false, "team": false, "nuget-store": true}, got); diff != "" {
		t.Errorf("retention (-want +got):\n%s", diff)
	}
	// The retained version keeps its catalog entry: the full version and
	// the original-case id.
	var idx regIndex
	s.getJSON(s.base("nuget-store")+"/v3/registration-semver2/contoso.widgets/index.json", &idx)
	if e := idx.Items[0].Items[2].CatalogEntry; e.Version != "2.0.0+build.7" || e.PackageID != "Contoso.Widgets" {
		t.Errorf("retained entry: %s %s", e.PackageID, e.Version)
	}

	// Bytes that disagree with the registration's packageHash are refused.
	if a := s.get(flat + "contoso.tampered/1.0.0/contoso.tampered.1.0.0.nupkg"); a.code != http.StatusBadGateway {
		t.Fatalf("tampered package: %d %s", a.code, a.body)
	}
	if s.held("app", "contoso.tampered", "1.0.0") || s.held("nuget-store", "contoso.tampered", "1.0.0") {
		t.Fatal("a tampered package was retained")
	}
}

func TestDependencyConfusionGuard(t *testing.T) {
	s := start(t, standardFeed(t), startOptions{})
	if got := flatVersions(t, s, "app", "contoso.internal"); !cmp.Equal(got, []string{"1.0.0", "9.0.0"}) {
		t.Fatalf("before the push: %v", got)
	}
	if a := s.push("internal", privateInternal(t, "0.5.0").data); a.code != 201 {
		t.Fatalf("push: %d %s", a.code, a.body)
	}
	tests := []struct {
		name string
		repo string
		want []string
	}{
		{"app reaches the internal package: public versions hidden", "app", []string{"0.5.0"}},
		{"internal", "internal", []string{"0.5.0"}},
		{"team does not reach it: public versions", "team", []string{"1.0.0", "9.0.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := flatVersions(t, s, tc.repo, "Contoso.Internal"); !cmp.Equal(got, tc.want) {
				t.Fatalf("versions %v, want %v", got, tc.want)
			}
		})
	}
	if a := s.get(s.base("app") + "/v3/flatcontainer/contoso.internal/9.0.0/contoso.internal.9.0.0.nupkg"); a.code != 404 {
		t.Fatalf("public version of an internal package through app: %d", a.code)
	}
	// Pushing a version the upstream serves, where it can be seen, is refused.
	a := s.push("app", pack(t, spec{id: "Contoso.Core", version: "2.0.0", content: "not the public one\n"}, "2.0.0").data)
	if a.code != 409 || !strings.Contains(string(a.body), "already available from upstream") {
		t.Fatalf("push over an upstream version: %d %s", a.code, a.body)
	}
}

func TestStaleAndOffline(t *testing.T) {
	feed := standardFeed(t)
	s := start(t, feed, startOptions{conn: upstream.Options{TTL: time.Millisecond}})
	base := s.base("app")
	reg := base + "/v3/registration-semver2/contoso.core/index.json"
	nupkg := base + "/v3/flatcontainer/contoso.core/1.1.0/contoso.core.1.1.0.nupkg"
	for _, u := range []string{reg, nupkg} {
		if a := s.get(u); a.code != 200 {
			t.Fatalf("warm-up %s: %d", u, a.code)
		}
	}
	s.in.Clock.Advance(5 * time.Millisecond)

	feed.srv.Fault("*", upstreamtest.Fault{Status: 503})
	t.Run("upstream failing: stale metadata", func(t *testing.T) {
		var idx regIndex
		s.getJSON(reg, &idx)
		if len(idx.Items) != 1 || len(idx.Items[0].Items) != 2 {
			t.Fatalf("stale registration: %+v", idx)
		}
	})
	t.Run("upstream failing: a package never fetched is an upstream error, not a 404", func(t *testing.T) {
		if a := s.get(base + "/v3/flatcontainer/contoso.core/2.0.0/contoso.core.2.0.0.nupkg"); a.code != http.StatusBadGateway {
			t.Fatalf("%d %s", a.code, a.body)
		}
	})
	t.Run("upstream failing: an uncached package is an upstream error", func(t *testing.T) {
		if a := s.get(base + "/v3/flatcontainer/contoso.many/index.json"); a.code != http.StatusBadGateway {
			t.Fatalf("%d %s", a.code, a.body)
		}
	})

	feed.srv.Close()
	s.in.Restart()
	base = s.base("app")
	t.Run("upstream gone, after a restart", func(t *testing.T) {
		if a := s.get(base + "/v3/flatcontainer/contoso.core/1.1.0/contoso.core.1.1.0.nupkg"); a.code != 200 || !bytes.Equal(a.body, coreV1(t).data) {
			t.Fatalf("retained package: %d", a.code)
		}
		if got := flatVersions(t, s, "app", "contoso.core"); !cmp.Equal(got, []string{"1.1.0", "2.0.0"}) {
			t.Fatalf("versions %v", got)
		}
		if a := s.get(base + "/v3/flatcontainer/contoso.core/1.1.0/contoso.core.nuspec"); a.code != 200 {
			t.Fatalf("nuspec: %d", a.code)
		}
	})
}
