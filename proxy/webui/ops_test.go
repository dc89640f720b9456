package webui_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/upstream"
)

func TestOperationsView(t *testing.T) {
	// The npm connection answers 404, and 500 for names with "broken".
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "broken") {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		http.NotFound(w, r)
	}))
	defer fake.Close()
	cfg := testConfig()
	cfg.Connections = map[string]upstream.Options{"public:npmjs": {URL: fake.URL + "/", Retries: 1}}
	cfg.Domains[0].Repositories = append(cfg.Domains[0].Repositories, proxy.RepositoryConfig{Name: "npm-store", ExternalConnection: "public:npmjs"})
	in := start(t, cfg, 0)
	tok := in.TokenFor("acme", "AKIAADMIN")
	for _, name := range []string{"absent", "broken"} {
		req, _ := http.NewRequest(http.MethodGet, in.URL+"/acme/npm/npm-store/"+name, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	admin := newBrowser(t, in)
	admin.signIn(tok)
	if p := admin.get("/-/ui/"); !strings.Contains(p.Body, `id="ops"`) {
		t.Error("the admin is not offered the operations view")
	}
	p := admin.get("/-/ui/ops")
	if p.Status != http.StatusOK {
		t.Fatalf("operations view: %d %s", p.Status, p.Body)
	}
	for _, want := range []string{`<th scope="row">public:npmjs</th>`, "failing", "unavailable", `<th scope="row">npm</th>`, "Resident memory",
		`<code>GET /acme/npm/npm-store/broken</code>`, `id="errors"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("operations view lacks %q", want)
		}
	}
	for name, b := range map[string]*browser{"viewer": newBrowser(t, in), "signed out": newBrowser(t, in)} {
		if name == "viewer" {
			b.signIn(in.TokenFor("acme", "AKIAVIEWER"))
		}
		if p := b.get("/-/ui/"); strings.Contains(p.Body, `id="ops"`) {
			t.Errorf("%s is offered the operations view", name)
		}
		if p := b.get("/-/ui/ops"); p.Status == http.StatusOK || strings.Contains(p.Body, "public:npmjs") {
			t.Errorf("%s sees the operations view: %d", name, p.Status)
		}
	}
}
