package webui_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// upstreamConfig is testConfig with app → [internal, npm-store], npm-store
// reaching a fake npm registry through public:npmjs with a TTL of an hour.
func upstreamConfig(fake *upstreamtest.Server) *proxy.Config {
	cfg := testConfig()
	cfg.Connections = map[string]upstream.Options{"public:npmjs": {URL: fake.URL + "/", TTL: time.Hour}}
	d := &cfg.Domains[0]
	d.Repositories[0].Upstreams = []string{"internal", "npm-store"}
	d.Repositories = append(d.Repositories, proxy.RepositoryConfig{Name: "npm-store", ExternalConnection: "public:npmjs"})
	return cfg
}

// serveNPM makes the fake registry offer name at these versions (the last
// one latest), with their tarballs; deps are every version's dependencies.
func serveNPM(t testing.TB, fake *upstreamtest.Server, name string, deps map[string]string, versions ...string) {
	t.Helper()
	vs := map[string]any{}
	times := map[string]any{"created": "2024-01-01T00:00:00.000Z", "modified": "2024-03-01T00:00:00.000Z"}
	for i, v := range versions {
		tgz, shasum, integrity := formattest.NPMManifestTarball(name, v)
		base := name[strings.LastIndexByte(name, '/')+1:]
		path := "/" + name + "/-/" + base + "-" + v + ".tgz"
		fake.Handle(path, upstreamtest.Response{Body: tgz, ContentType: "application/octet-stream"})
		vs[v] = map[string]any{"name": name, "version": v, "_id": name + "@" + v, "dependencies": deps,
			"dist": map[string]any{"tarball": fake.URL + path, "shasum": shasum, "integrity": integrity}}
		times[v] = "2024-02-0" + string(rune('1'+i)) + "T00:00:00.000Z"
	}
	doc := map[string]any{"_id": name, "name": name, "dist-tags": map[string]string{"latest": versions[len(versions)-1]},
		"versions": vs, "time": times}
	body, _ := json.Marshal(doc)
	fake.Handle("/"+name, upstreamtest.Response{Body: body, ContentType: "application/json"})
}

// npmGet is a client's GET of path in acme/npm/app.
func npmGet(t testing.TB, in *proxytest.Instance, tok, path string) []byte {
	t.Helper()
	return proxytest.GetOK(t, in.URL+"/acme/npm/app/"+path, http.Header{"Authorization": {"Bearer " + tok}})
}

// packumentVersions lists the versions of the packument of name in acme/app.
func packumentVersions(t testing.TB, in *proxytest.Instance, tok, name string) string {
	t.Helper()
	var doc struct{ Versions map[string]json.RawMessage }
	if err := json.Unmarshal(npmGet(t, in, tok, url.PathEscape(name)), &doc); err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(doc.Versions))
	for v := range doc.Versions {
		out = append(out, v)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// TestRefreshShowsNewUpstreamVersions: the upstream publishes a version
// while the packument is cached (TTL an hour); "Refresh now", confirmed with
// the CSRF token, makes npm's packument show it at once. A visitor who may
// not read the repository, an anonymous visitor and a form without the
// CSRF token are refused, and the upstream is not asked for them.
func TestRefreshShowsNewUpstreamVersions(t *testing.T) {
	fake := upstreamtest.New(t)
	cfg := upstreamConfig(fake)
	cfg.Auth.AnonymousRead = true
	in := start(t, cfg, 0)
	tok := in.TokenFor("acme", "AKIAADMIN")
	serveNPM(t, fake, "is-thirteen", nil, "1.0.0")
	for range 2 { // a rendered packument is kept from its second rendering on
		if got := packumentVersions(t, in, tok, "is-thirteen"); got != "1.0.0" {
			t.Fatalf("packument versions %q", got)
		}
	}
	npmGet(t, in, tok, "is-thirteen/-/is-thirteen-1.0.0.tgz") // retained in app: the package page lists it
	serveNPM(t, fake, "is-thirteen", nil, "1.0.0", "1.1.0")
	if got := packumentVersions(t, in, tok, "is-thirteen"); got != "1.0.0" {
		t.Fatalf("within the TTL the packument already lists %q", got)
	}
	const pkgPage = "/-/ui/d/acme/r/app/package?format=npm&name=is-thirteen"
	const appAction = "/-/ui/d/acme/r/app/action"
	form := url.Values{"op": {"refresh"}, "format": {"npm"}, "name": {"is-thirteen"}}
	hits := fake.Hits("/is-thirteen")

	refused := []struct {
		name   string
		key    string // "" for anonymous
		noCSRF bool
		want   int
	}{
		{"principal that may not read app", "AKIANOBODY", false, http.StatusNotFound},
		{"anonymous reader", "", false, http.StatusForbidden},
		{"admin without CSRF token", "AKIAADMIN", true, http.StatusForbidden},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, in)
			if tc.key != "" {
				b.signIn(in.TokenFor("acme", tc.key))
			}
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if !tc.noCSRF {
				if strings.Contains(b.get(pkgPage).Body, `id="act-refresh"`) {
					t.Error("the package page offers to refresh")
				}
				if p := b.get(appAction + "?" + f.Encode()); p.Status != tc.want {
					t.Errorf("confirmation page: %d, want %d", p.Status, tc.want)
				}
				f.Set("csrf", csrf(t, b.get("/-/ui/signin").Body))
			}
			if p := b.post(appAction, f); p.Status != tc.want {
				t.Errorf("refresh: %d, want %d", p.Status, tc.want)
			}
		})
	}
	if fake.Hits("/is-thirteen") != hits {
		t.Fatal("a refused refresh asked the upstream")
	}

	b := newBrowser(t, in)
	b.signIn(tok)
	if p := b.get(pkgPage); !strings.Contains(p.Body, `id="act-refresh"`) {
		t.Fatalf("the admin is not offered to refresh: %d", p.Status)
	}
	confirm := b.get(appAction + "?" + form.Encode())
	if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, `id="confirm"`) {
		t.Fatalf("confirmation page: %d %s", confirm.Status, confirm.Body)
	}
	if fake.Hits("/is-thirteen") != hits {
		t.Fatal("the confirmation page asked the upstream")
	}
	form.Set("csrf", csrf(t, confirm.Body))
	p := b.post(appAction, form)
	if p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "done=refresh") {
		t.Fatalf("refresh: %d %q %s", p.Status, p.Location, p.Body)
	}
	if fake.Hits("/is-thirteen") <= hits {
		t.Error("the refresh did not ask the upstream")
	}
	if page := b.get(p.Location); !strings.Contains(page.Body, "now see 2 versions") {
		t.Errorf("the package page after the refresh does not say what it found:\n%s", page.Body)
	}
	if got := packumentVersions(t, in, tok, "is-thirteen"); got != "1.0.0 1.1.0" {
		t.Fatalf("after the refresh the packument lists %q, want 1.0.0 1.1.0", got)
	}

	// An upstream that fails: the page says what is served is what it said
	// before, and the packument still answers.
	fake.Fault("/is-thirteen", upstreamtest.Fault{Status: http.StatusForbidden})
	in.Clock.Advance(time.Minute) // past the 5 s within which a forced revalidation is not repeated
	p = b.post(appAction, form)
	if p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "stale=1") {
		t.Fatalf("refresh with the upstream failing: %d %q", p.Status, p.Location)
	}
	if page := b.get(p.Location); !strings.Contains(page.Body, `id="stale"`) {
		t.Error("the package page does not say the upstream could not be reached")
	}
	if got := packumentVersions(t, in, tok, "is-thirteen"); got != "1.0.0 1.1.0" {
		t.Fatalf("with the upstream failing the packument lists %q", got)
	}
}

// TestFilterCachedNeverRequestedAgain: two packages are fetched through
// app from the upstream; one is asked for again. The "cached, never
// requested again" filter lists the other only, in app and in npm-store.
func TestFilterCachedNeverRequestedAgain(t *testing.T) {
	fake := upstreamtest.New(t)
	in := start(t, upstreamConfig(fake), 0)
	tok := in.TokenFor("acme", "AKIAADMIN")
	for _, name := range []string{"once-only", "popular"} {
		serveNPM(t, fake, name, nil, "1.0.0")
		npmGet(t, in, tok, name+"/-/"+name+"-1.0.0.tgz")
	}
	npmGet(t, in, tok, "popular/-/popular-1.0.0.tgz") // served from the store
	b := newBrowser(t, in)
	b.signIn(tok)
	deadline := time.Now().Add(10 * time.Second)
	for _, repo := range []string{"app", "npm-store"} {
		for {
			// The index is rebuilt in the background once older than its
			// TTL; the mark is written in the background too.
			in.Clock.Advance(time.Minute)
			built := in.Events.Counts().Indexes
			p := b.get("/-/ui/d/acme/r/" + repo + "?origin=idle")
			if strings.Contains(p.Body, ">once-only<") && !strings.Contains(p.Body, ">popular<") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s, never requested again, lists:\n%s", repo, p.Body)
			}
			// This page was older than the TTL: wait for the rebuild it
			// started before asking again.
			in.Events.Await(t, "the index rebuilt", func(c proxytest.EventCounts) bool { return c.Indexes > built })
		}
		if p := b.get("/-/ui/d/acme/r/" + repo + "?origin=external"); !strings.Contains(p.Body, ">once-only<") || !strings.Contains(p.Body, ">popular<") {
			t.Errorf("%s, from upstream, does not list both", repo)
		}
	}
	if p := b.get("/-/ui/d/acme/r/internal?origin=idle"); strings.Contains(p.Body, ">left-pad<") {
		t.Error("a package published here is listed as cached and never requested again")
	}
}
