package webui_test

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// upstreamsOf reads a repository's upstreams and external connections as
// `aws codeartifact describe-repository` shows them.
func upstreamsOf(t *testing.T, cli *proxytest.AWSCLI, repo string) (ups, conns []string) {
	t.Helper()
	v := cli.OK("describe-repository", "--domain", "acme", "--repository", repo)
	list, _ := proxytest.Pick(v, "repository", "upstreams").([]any)
	for i := range list {
		ups = append(ups, proxytest.Pick(v, "repository", "upstreams", i, "repositoryName").(string))
	}
	ec, _ := proxytest.Pick(v, "repository", "externalConnections").([]any)
	for i := range ec {
		conns = append(conns, proxytest.Pick(v, "repository", "externalConnections", i, "externalConnectionName").(string))
	}
	return ups, conns
}

func TestConnectToPublicRepository(t *testing.T) {
	in := start(t, nil, 0)
	cli := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	b := newBrowser(t, in)
	b.signIn(in.TokenFor("acme", "AKIAADMIN"))
	if p := b.get("/-/ui/d/acme/r/app"); !strings.Contains(p.Body, `id="settings"`) {
		t.Fatal("the repository page offers no settings to the admin")
	}
	connect := func(repo, conn string) {
		t.Helper()
		page := b.get("/-/ui/d/acme/r/" + repo + "/settings")
		if page.Status != http.StatusOK || !strings.Contains(page.Body, "crates.io (cargo-store)") {
			t.Fatalf("settings page: %d", page.Status)
		}
		p := b.post("/-/ui/d/acme/r/"+repo+"/connect", url.Values{"csrf": {csrf(t, page.Body)}, "connection": {conn}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("connect %s to %s: %d %s", repo, conn, p.Status, p.Body)
		}
	}
	connect("app", "public:npmjs")
	if ups, _ := upstreamsOf(t, cli, "app"); !reflect.DeepEqual(ups, []string{"internal", "npm-store"}) {
		t.Fatalf("app's upstreams: %v", ups)
	}
	if ups, conns := upstreamsOf(t, cli, "npm-store"); len(ups) != 0 || !reflect.DeepEqual(conns, []string{"public:npmjs"}) {
		t.Fatalf("npm-store: upstreams %v, external connections %v", ups, conns)
	}
	// A second repository reuses the store; connecting twice changes nothing.
	connect("internal", "public:npmjs")
	connect("internal", "public:npmjs")
	if ups, _ := upstreamsOf(t, cli, "internal"); !reflect.DeepEqual(ups, []string{"npm-store"}) {
		t.Fatalf("internal's upstreams: %v", ups)
	}
	v := cli.OK("list-repositories-in-domain", "--domain", "acme")
	if n := strings.Count(strings.Join(names(v), " "), "npm-store"); n != 1 {
		t.Fatalf("%d repositories named npm-store: %v", n, names(v))
	}
	connect("internal", "public:crates-io")
	if _, conns := upstreamsOf(t, cli, "cargo-store"); !reflect.DeepEqual(conns, []string{"public:crates-io"}) {
		t.Fatalf("cargo-store's external connections: %v", conns)
	}
}

func names(v map[string]any) []string {
	var out []string
	list, _ := proxytest.Pick(v, "repositories").([]any)
	for i := range list {
		out = append(out, proxytest.Pick(v, "repositories", i, "name").(string))
	}
	return out
}

func TestEditRepositoryValidatesLikeUpdateRepository(t *testing.T) {
	in := start(t, nil, 0)
	cli := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	cli.OK("create-repository", "--domain", "acme", "--repository", "extra")
	b := newBrowser(t, in)
	b.signIn(in.TokenFor("acme", "AKIAADMIN"))
	edit := func(repo, desc, ups string) page {
		t.Helper()
		page := b.get("/-/ui/d/acme/r/" + repo + "/settings")
		return b.post("/-/ui/d/acme/r/"+repo+"/settings", url.Values{"csrf": {csrf(t, page.Body)}, "description": {desc}, "upstreams": {ups}})
	}
	if p := edit("app", "Builds", "extra\ninternal\n"); p.Status != http.StatusSeeOther {
		t.Fatalf("reorder: %d %s", p.Status, p.Body)
	}
	if ups, _ := upstreamsOf(t, cli, "app"); !reflect.DeepEqual(ups, []string{"extra", "internal"}) {
		t.Fatalf("app's upstreams: %v", ups)
	}
	v := cli.OK("describe-repository", "--domain", "acme", "--repository", "app")
	if d := proxytest.Pick(v, "repository", "description"); d != "Builds" {
		t.Fatalf("description %v", d)
	}
	cases := []struct{ name, repo, ups, want string }{
		{"cycle", "internal", "app", "cycle"},
		{"itself", "app", "app", "its own upstream"},
		{"unknown", "app", "nope", "does not exist"},
		{"too many", "app", strings.Repeat("x\n", 11), "at most 10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := edit(tc.repo, "", tc.ups)
			if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, tc.want) {
				t.Fatalf("%d, want 400 saying %q: %s", p.Status, tc.want, p.Body)
			}
		})
	}
	if ups, _ := upstreamsOf(t, cli, "app"); !reflect.DeepEqual(ups, []string{"extra", "internal"}) {
		t.Fatalf("refused edits changed app's upstreams: %v", ups)
	}
	// A principal without UpdateRepository gets no settings.
	viewer := newBrowser(t, in)
	viewer.signIn(in.TokenFor("acme", "AKIAVIEWER"))
	if p := viewer.get("/-/ui/d/acme/r/app"); strings.Contains(p.Body, `id="settings"`) {
		t.Error("the viewer is offered the settings")
	}
	if p := viewer.get("/-/ui/d/acme/r/app/settings"); p.Status != http.StatusForbidden {
		t.Errorf("viewer's settings page: %d", p.Status)
	}
	tok := csrf(t, viewer.get("/-/ui/signin").Body)
	for _, path := range []string{"/settings", "/connect"} {
		p := viewer.post("/-/ui/d/acme/r/app"+path, url.Values{"csrf": {tok}, "upstreams": {""}, "connection": {"public:npmjs"}})
		if p.Status != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d", path, p.Status)
		}
	}
	if ups, _ := upstreamsOf(t, cli, "app"); !reflect.DeepEqual(ups, []string{"extra", "internal"}) {
		t.Fatalf("the viewer changed app's upstreams: %v", ups)
	}
}
