package proxy_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

func TestDataPlaneAuth(t *testing.T) {
	up := proxytest.NewToyUpstream(t)
	fake := up.Fake
	up.Publish(t, "demo", "1.0.0")
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIATEST", Secret: "s3cret"}}
	cfg.Connections = map[string]upstream.Options{"public:crates-io": {URL: fake.URL + "/"}}
	cfg.Domains = []proxy.DomainConfig{
		{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "app", ExternalConnection: "public:crates-io"}}},
		{Name: "other", Repositories: []proxy.RepositoryConfig{{Name: "app"}}},
	}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}}})
	good := in.Token("acme")
	foreign := in.Token("other")
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no credentials", nil, 401},
		{"bearer", map[string]string{"Authorization": "Bearer " + good}, 200},
		{"basic with any user", map[string]string{"Authorization": basic("aws", good)}, 200},
		{"raw token as cargo sends it", map[string]string{"Authorization": good}, 200},
		{"nuget api key", map[string]string{"X-NuGet-ApiKey": good}, 200},
		{"token of another domain", map[string]string{"Authorization": "Bearer " + foreign}, 401},
		{"tampered token", map[string]string{"Authorization": "Bearer " + good[:len(good)-2] + "xx"}, 401},
		{"garbage", map[string]string{"Authorization": "Bearer nonsense"}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, in.URL+"/acme/cargo/app/demo", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 401 {
				got := strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")
				if !strings.Contains(got, `Basic realm="acme/app"`) || !strings.Contains(got, `Bearer realm="acme/app"`) {
					t.Fatalf("challenge %q does not offer Basic and Bearer", got)
				}
			}
		})
	}
	// The control plane refuses unsigned requests.
	resp, err := http.Post(in.URL+"/v1/domains", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("x-amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned control-plane request: %d %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
}

func TestAnonymousRead(t *testing.T) {
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIATEST", Secret: "s3cret"}}
	cfg.Auth.AnonymousRead = true
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "app"}}}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}}})
	tests := []struct {
		method string
		want   int
	}{
		{http.MethodGet, 404}, // let through: the package does not exist
		{http.MethodPost, 401},
		{http.MethodPut, 401},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, in.URL+"/acme/cargo/app/demo", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s: %d, want %d", tc.method, resp.StatusCode, tc.want)
			}
		})
	}
}

func TestOperationsEndpoints(t *testing.T) {
	cfg := proxy.Defaults()
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "app"}}}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}}})
	get(t, in.URL+"/acme/cargo/app/missing")
	get(t, in.URL+"/acme/cargo/nope/missing")
	tests := []struct {
		path string
		code int
		has  string
	}{
		{"/-/health", 200, `"ok"`},
		{"/-/ready", 200, `"ready"`},
		{"/-/metrics", 200, `stockpile_requests_total{code="404",format="cargo"} 2`},
		{"/acme/cargo/nope/missing", 404, "repository nope does not exist in domain acme"},
		{"/v1/nothing", 400, "UNKNOWN_OPERATION"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, body := get(t, in.URL+tc.path)
			if code != tc.code || !strings.Contains(body, tc.has) {
				t.Fatalf("%d %s, want %d with %q", code, body, tc.code, tc.has)
			}
		})
	}
}
