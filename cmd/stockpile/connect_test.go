package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

func TestConnect(t *testing.T) {
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIAADMIN", Secret: "admin-secret", Admin: true}}
	cfg.Connections = map[string]upstream.Options{"public:npmjs": {URL: "http://127.0.0.1:9/"}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "internal"}, {Name: "app", Upstreams: []string{"internal"}}, {Name: "web"}}}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: allFormats()})
	aws := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": in.URL}
	getenv := func(k string) string { return env[k] }
	upstreams := func(repo string) string {
		t.Helper()
		var names []string
		ups, _ := proxytest.Pick(aws.OK("describe-repository", "--domain", "acme", "--repository", repo), "repository", "upstreams").([]any)
		for _, u := range ups {
			names = append(names, fmt.Sprint(proxytest.Pick(u, "repositoryName")))
		}
		return strings.Join(names, ",")
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
		check    func(t *testing.T)
	}{
		{"connect app: npm-store created with public:npmjs, last upstream", []string{"--repository", "app", "public:npmjs"}, 0,
			"created npm-store\nassociated public:npmjs with npm-store\napp now reads through internal, npm-store\n", "",
			func(t *testing.T) {
				if got := upstreams("app"); got != "internal,npm-store" {
					t.Errorf("app upstreams %q", got)
				}
				store := aws.OK("describe-repository", "--domain", "acme", "--repository", "npm-store")
				if c := proxytest.Pick(store, "repository", "externalConnections", 0, "externalConnectionName"); c != "public:npmjs" {
					t.Errorf("npm-store: %v", store)
				}
			}},
		{"connect web by the store's name: npm-store not created again", []string{"--repository", "web", "npm-store"}, 0,
			"web now reads through npm-store\n", "",
			func(t *testing.T) {
				if got := upstreams("web"); got != "npm-store" {
					t.Errorf("web upstreams %q", got)
				}
				n := 0
				for _, r := range proxytest.Pick(aws.OK("list-repositories-in-domain", "--domain", "acme"), "repositories").([]any) {
					if proxytest.Pick(r, "name") == "npm-store" {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d npm-store repositories", n)
				}
			}},
		{"again: nothing changes", []string{"--repository", "app", "public:npmjs"}, 0, "app already reads through npm-store\n", "",
			func(t *testing.T) {
				if got := upstreams("app"); got != "internal,npm-store" {
					t.Errorf("app upstreams %q", got)
				}
			}},
		{"--position 1 puts it first", []string{"--repository", "app", "--position", "1", "pypi-store"}, 0, "app now reads through pypi-store, internal, npm-store\n", "", nil},
		{"--list", []string{"--list"}, 0, "", "", func(t *testing.T) {}},
		{"an unknown public repository", []string{"--repository", "app", "public:cpan"}, 2, "", `unknown public repository "public:cpan"`, nil},
		{"no NAME", []string{"--repository", "app"}, 2, "", "give one NAME", nil},
		{"the store itself", []string{"--repository", "npm-store", "public:npmjs"}, 2, "", "is the store repository itself", nil},
		{"a position out of range", []string{"--repository", "web", "--position", "5", "public:pypi"}, 2, "", "--position 5: web has 1 upstreams, so 1 to 2", nil},
		{"an unknown repository", []string{"--repository", "nope", "public:pypi"}, 1, "", "ResourceNotFoundException", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, getenv, append([]string{"connect", "--domain", "acme"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout with %q, stderr with %q", code, tt.wantCode, out, errOut, tt.wantOut, tt.wantErr)
			}
			if tt.name == "--list" {
				present := map[string]string{}
				for _, line := range strings.Split(out, "\n") {
					if f := strings.Fields(line); len(f) >= 3 {
						present[f[0]+" "+f[1]] = f[2]
					}
				}
				for row, want := range map[string]string{"public:npmjs npm-store": "yes", "public:pypi pypi-store": "yes", "public:crates-io crates-io-store": "-"} {
					if present[row] != want {
						t.Errorf("--list: %s is %q, want %q:\n%s", row, present[row], want, out)
					}
				}
				if len(present) != 11 {
					t.Errorf("--list has %d rows, want a header and 10:\n%s", len(present), out)
				}
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
}
