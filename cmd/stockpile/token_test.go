package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/npm"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

func tokenTestConfig() *proxy.Config {
	cfg := proxy.Defaults()
	cfg.Auth.Account = "111122223333"
	cfg.Auth.AccessKeys = []proxy.AccessKey{
		{ID: "AKIAADMIN", Secret: "admin-secret", Admin: true},
		{ID: "AKIAREADER", Secret: "reader-secret", Policy: `{"Statement":{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":"*"}}`},
	}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "app"}, {Name: "internal"}}}}
	return &cfg
}

// publishBody is the body `npm publish` sends for name@1.0.0.
func publishBody(t *testing.T, name string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	pj := []byte(`{"name":"` + name + `","version":"1.0.0"}`)
	if err := tw.WriteHeader(&tar.Header{Name: "package/package.json", Mode: 0o644, Size: int64(len(pj))}); err != nil {
		t.Fatal(err)
	}
	tw.Write(pj)
	tw.Close()
	gz.Close()
	s1, s512 := sha1.Sum(buf.Bytes()), sha512.Sum512(buf.Bytes())
	file := name + "-1.0.0.tgz"
	b, _ := json.Marshal(map[string]any{
		"_id": name, "name": name, "dist-tags": map[string]string{"latest": "1.0.0"},
		"versions": map[string]any{"1.0.0": map[string]any{"name": name, "version": "1.0.0",
			"dist": map[string]string{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]), "tarball": "http://client.invalid/" + file}}},
		"_attachments": map[string]any{file: map[string]any{"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(buf.Bytes()), "length": buf.Len()}},
	})
	return b
}

func TestScopedTokens(t *testing.T) {
	in := proxytest.Start(t, proxytest.Options{Config: tokenTestConfig(), OnDisk: true, Formats: []formats.Format{npm.New()}})
	env := func(key, secret string) func(string) string {
		return func(k string) string {
			return map[string]string{"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}[k]
		}
	}
	admin := env("AKIAADMIN", "admin-secret")
	cmd := func(getenv func(string) string, args ...string) (map[string]any, error) {
		t.Helper()
		var out, errb bytes.Buffer
		err := run(append([]string{"token", args[0], "--endpoint-url", in.URL, "--domain", "acme"}, args[1:]...), getenv, &out, &errb)
		var v map[string]any
		if err == nil {
			if jerr := json.Unmarshal(out.Bytes(), &v); jerr != nil {
				t.Fatalf("token %s: output %q: %v", args[0], out.String(), jerr)
			}
		}
		return v, err
	}
	do := func(secret, method, path string, body []byte) int {
		t.Helper()
		req, _ := http.NewRequest(method, in.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	ro, err := cmd(admin, "create", "--name", "renovate", "--repositories", "app", "--access", "read", "--duration", "720h")
	if err != nil {
		t.Fatal(err)
	}
	roSecret, _ := ro["secret"].(string)
	if !strings.HasPrefix(roSecret, "stkpl_") || proxytest.Pick(ro, "token", "access") != "read" {
		t.Fatalf("create: %v", ro)
	}
	rw, err := cmd(admin, "create", "--name", "release", "--repositories", "internal", "--access", "read+publish")
	if err != nil {
		t.Fatal(err)
	}
	rwSecret, _ := rw["secret"].(string)
	if _, err := cmd(admin, "create", "--name", "renovate", "--repositories", "app"); err == nil || !strings.Contains(err.Error(), "ConflictException") {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := cmd(admin, "create", "--name", "x", "--repositories", "app", "--duration", "9000h"); err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Fatalf("over a year: %v", err)
	}
	if _, err := cmd(env("AKIAREADER", "reader-secret"), "create", "--name", "mine", "--repositories", "app"); err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("reader creates a token: %v", err)
	}

	tests := []struct {
		name, secret, method, path string
		body                       []byte
		want                       int
	}{
		{"read-only token reads its repository", roSecret, http.MethodGet, "/acme/npm/app/nothing", nil, http.StatusNotFound},
		{"read-only token outside its repositories", roSecret, http.MethodGet, "/acme/npm/internal/nothing", nil, http.StatusForbidden},
		{"read-only token publishes", roSecret, http.MethodPut, "/acme/npm/app/ro-pkg", publishBody(t, "ro-pkg"), http.StatusForbidden},
		{"publish token publishes to its repository", rwSecret, http.MethodPut, "/acme/npm/internal/rw-pkg", publishBody(t, "rw-pkg"), http.StatusOK},
		{"publish token outside its repositories", rwSecret, http.MethodPut, "/acme/npm/app/rw-pkg", publishBody(t, "rw-pkg"), http.StatusForbidden},
		{"a made-up scoped token", "stkpl_madeup", http.MethodGet, "/acme/npm/app/nothing", nil, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := do(tt.secret, tt.method, tt.path, tt.body); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
		})
	}

	list, err := cmd(admin, "list")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(list)
	if n := len(proxytest.Pick(list, "tokens").([]any)); n != 2 || strings.Contains(string(raw), roSecret) || strings.Contains(string(raw), "hash") {
		t.Fatalf("list: %s", raw)
	}
	// Revoked: refused on the very next request.
	if _, err := cmd(admin, "revoke", "--name", "renovate"); err != nil {
		t.Fatal(err)
	}
	if got := do(roSecret, http.MethodGet, "/acme/npm/app/nothing", nil); got != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", got)
	}
	// Tokens survive a restart.
	in.Restart()
	if got := do(rwSecret, http.MethodGet, "/acme/npm/internal/rw-pkg", nil); got != http.StatusOK {
		t.Fatalf("publish token after restart: %d", got)
	}
	if list, _ := cmd(admin, "list"); len(proxytest.Pick(list, "tokens").([]any)) != 1 {
		t.Fatalf("list after restart: %v", list)
	}
}

func TestRotateTokenKey(t *testing.T) {
	in := proxytest.Start(t, proxytest.Options{Config: tokenTestConfig(), OnDisk: true, Formats: []formats.Format{npm.New()}})
	get := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, in.URL+"/acme/npm/app/nothing", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	old := in.TokenFor("acme", "AKIAADMIN")
	in.Restart()
	if got := get(old); got != http.StatusNotFound {
		t.Fatalf("token after a plain restart: %d", got)
	}
	in.Stop()
	var out, errb bytes.Buffer
	cfg := *in.Config()
	if err := rotateTokenKey(&cfg, &out, &errb); err != nil {
		t.Fatal(err)
	}
	in.Restart()
	if got := get(old); got != http.StatusUnauthorized {
		t.Fatalf("token minted before the rotation: %d, want 401", got)
	}
	if got := get(in.TokenFor("acme", "AKIAADMIN")); got != http.StatusNotFound {
		t.Fatalf("token minted after the rotation: %d", got)
	}
}
