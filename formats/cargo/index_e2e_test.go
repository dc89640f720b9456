package cargo_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/upstream"
)

func TestIndexPaths(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	reg.standard(t)
	in := stockpile(t, reg, upstream.Options{}, nil)
	base := in.URL + "/acme/cargo/app/"
	for _, tc := range []struct {
		name, path string
		code       int
		file       string // the upstream file the body must equal, byte for byte
	}{
		{"one letter", "1/a", 200, "a"},
		{"two letters", "2/bb", 200, "bb"},
		{"three letters with underscore", "3/c/c_d", 200, "c_d"},
		{"long name with hyphens and a yanked version", "lo/ng/long-crate-name", 200, "long-crate-name"},
		{"mixed case name, lower-cased path", "mi/xe/mixed_case", 200, "Mixed_Case"},
		{"upper case in the request", "LO/NG/Long-Crate-Name", 200, "long-crate-name"},
		{"other spelling of the separator", "lo/ng/long_crate_name", 404, ""},
		{"other spelling, three letters", "3/c/c-d", 404, ""},
		{"directories that do not match the name", "3/x/c_d", 404, ""},
		{"wrong length directory", "2/abc", 404, ""},
		{"four letter name under 3/", "3/l/long-crate-name", 404, ""},
		{"unknown crate", "no/ne/nonexistent", 404, ""},
		{"not a crate name", "2/a.", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := get(t, base+tc.path)
			if res.Code != tc.code {
				t.Fatalf("GET %s: %d %s, want %d", tc.path, res.Code, res.Body, tc.code)
			}
			if tc.code != 200 {
				if !strings.HasPrefix(res.Body, `{"errors":[{"detail":`) {
					t.Fatalf("error body is not cargo-shaped: %s", res.Body)
				}
				return
			}
			if diff := cmp.Diff(reg.file(tc.file), res.Body); diff != "" {
				t.Fatalf("index file differs from the upstream's (-upstream +served):\n%s", diff)
			}
			if res.Header.Get("ETag") == "" {
				t.Fatal("no ETag")
			}
		})
	}
}

func TestConfigJSON(t *testing.T) {
	reg := newRegistry(t, styleMarkers)
	open := stockpile(t, reg, upstream.Options{}, nil)
	res := get(t, open.URL+"/acme/cargo/app/config.json")
	want := `{"dl":"` + open.URL + `/acme/cargo/app/api/v1/crates","api":"` + open.URL + `/acme/cargo/app","auth-required":false}`
	if res.Code != 200 || res.Body != want {
		t.Fatalf("config.json: %d %s\nwant %s", res.Code, res.Body, want)
	}
	if again := get(t, open.URL+"/acme/cargo/app/config.json", "If-None-Match", res.Header.Get("ETag")); again.Code != http.StatusNotModified {
		t.Fatalf("revalidation: %d", again.Code)
	}

	locked := stockpile(t, reg, upstream.Options{}, withKeys)
	url := locked.URL + "/acme/cargo/app/config.json"
	for _, tc := range []struct {
		name   string
		header []string
		code   int
		body   string
	}{
		{"no token: 401 so that cargo retries with one", nil, 401, `{"errors":[{"detail":"authentication required`},
		{"raw token as cargo sends it", []string{"Authorization", locked.Token("acme")}, 200, `"auth-required":true}`},
		{"bearer token", []string{"Authorization", "Bearer " + locked.Token("acme")}, 200, `"auth-required":true}`},
		{"token of another domain", []string{"Authorization", locked.Token("other")}, 401, `{"errors"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := get(t, url, tc.header...)
			if res.Code != tc.code || !strings.Contains(res.Body, tc.body) {
				t.Fatalf("%d %s, want %d with %s", res.Code, res.Body, tc.code, tc.body)
			}
		})
	}

	anon := stockpile(t, reg, upstream.Options{}, func(cfg *proxy.Config) { withKeys(cfg); cfg.Auth.AnonymousRead = true })
	if res := get(t, anon.URL+"/acme/cargo/app/config.json"); res.Code != 200 || !strings.Contains(res.Body, `"auth-required":false`) {
		t.Fatalf("anonymous reads: %d %s", res.Code, res.Body)
	}
}
