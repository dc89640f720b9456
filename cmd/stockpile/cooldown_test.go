package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/npm"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// TestCooldownCommands sets, reads and removes cooldowns through the
// /v1/stockpile extension with `stockpile cooldown`, lists what a
// cooldown holds back, and shows each call authorised by its own action:
// a principal allowed to read cooldowns may not change them.
func TestCooldownCommands(t *testing.T) {
	fake := upstreamtest.New(t)
	now := time.Now().UTC()
	packument, _ := json.Marshal(map[string]any{
		"name": "left-pad", "dist-tags": map[string]string{"latest": "1.1.0"},
		"versions": map[string]any{
			"1.0.0": map[string]any{"name": "left-pad", "version": "1.0.0", "dist": map[string]string{"tarball": fake.URL + "/left-pad/-/left-pad-1.0.0.tgz"}},
			"1.1.0": map[string]any{"name": "left-pad", "version": "1.1.0", "dist": map[string]string{"tarball": fake.URL + "/left-pad/-/left-pad-1.1.0.tgz"}},
		},
		"time": map[string]string{"1.0.0": now.Add(-60 * 24 * time.Hour).Format(time.RFC3339), "1.1.0": now.Add(-24 * time.Hour).Format(time.RFC3339)},
	})
	fake.Handle("/left-pad", upstreamtest.Response{Body: packument, ContentType: "application/json"})
	cfg := tokenTestConfig()
	cfg.Auth.AccessKeys = append(cfg.Auth.AccessKeys, proxy.AccessKey{ID: "AKIAAUDITOR", Secret: "auditor-secret",
		Policy: `{"Statement":{"Effect":"Allow","Action":["stockpile:GetRepositoryCooldown","stockpile:ListHeldPackageVersions"],"Resource":"*"}}`})
	cfg.Connections = map[string]upstream.Options{"public:npmjs": {URL: fake.URL + "/"}}
	cfg.Domains[0].Repositories[0].ExternalConnection = "public:npmjs"
	in := proxytest.Start(t, proxytest.Options{Config: cfg, Formats: []formats.Format{npm.New()}})
	env := func(key, secret string) func(string) string {
		return func(k string) string {
			return map[string]string{"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}[k]
		}
	}
	admin, auditor := env("AKIAADMIN", "admin-secret"), env("AKIAAUDITOR", "auditor-secret")
	cmd := func(getenv func(string) string, args ...string) (map[string]any, error) {
		t.Helper()
		var out, errb bytes.Buffer
		err := run(append([]string{"cooldown", args[0], "--endpoint-url", in.URL, "--domain", "acme"}, args[1:]...), getenv, &out, &errb)
		var v map[string]any
		if err == nil {
			if jerr := json.Unmarshal(out.Bytes(), &v); jerr != nil {
				t.Fatalf("cooldown %s: output %q: %v", args[0], out.String(), jerr)
			}
		}
		return v, err
	}
	must := func(getenv func(string) string, args ...string) map[string]any {
		t.Helper()
		v, err := cmd(getenv, args...)
		if err != nil {
			t.Fatalf("cooldown %s: %v", strings.Join(args, " "), err)
		}
		return v
	}

	t.Run("set and get a repository's cooldown", func(t *testing.T) {
		v := must(admin, "set", "--repository", "app", "--min-age", "7d", "--mode", "deny", "--exempt", "/npm/acme/*", "--apply-to-retained")
		if got := proxytest.Pick(v, "cooldown", "minAge"); got != "7d" {
			t.Fatalf("set answered %v", v)
		}
		v = must(auditor, "get", "--repository", "app")
		if proxytest.Pick(v, "cooldown", "mode") != "deny" || proxytest.Pick(v, "cooldown", "exempt", 0) != "/npm/acme/*" ||
			proxytest.Pick(v, "cooldown", "applyToRetained") != true {
			t.Fatalf("get answered %v", v)
		}
	})
	t.Run("held lists the version and when it is available", func(t *testing.T) {
		v := must(auditor, "held", "--repository", "app", "--format", "npm", "--package", "left-pad")
		if proxytest.Pick(v, "source") != "repository app" || proxytest.Pick(v, "versions", 0, "version") != "1.1.0" ||
			proxytest.Pick(v, "versions", 0, "mode") != "deny" || proxytest.Pick(v, "versions", 0, "availableFrom") == nil {
			t.Fatalf("held answered %v", v)
		}
		if vs, _ := proxytest.Pick(v, "versions").([]any); len(vs) != 1 {
			t.Fatalf("held lists %d versions, want 1: %v", len(vs), v)
		}
	})
	t.Run("a principal allowed to read may not change", func(t *testing.T) {
		_, err := cmd(auditor, "set", "--repository", "app", "--min-age", "1d")
		if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") || !strings.Contains(err.Error(), "stockpile:PutRepositoryCooldown") {
			t.Fatalf("auditor set: %v", err)
		}
		_, err = cmd(auditor, "get", "--package-group", "/*")
		if err == nil || !strings.Contains(err.Error(), "stockpile:GetPackageGroupCooldown") {
			t.Fatalf("auditor get of a group: %v", err)
		}
		if v := must(admin, "get", "--repository", "app"); proxytest.Pick(v, "cooldown", "minAge") != "7d" {
			t.Fatalf("after the refused set: %v", v)
		}
	})
	t.Run("bad values are a validation error", func(t *testing.T) {
		_, err := cmd(admin, "set", "--repository", "app", "--min-age", "7d", "--mode", "block")
		if err == nil || !strings.Contains(err.Error(), "ValidationException") || !strings.Contains(err.Error(), `mode "block"`) {
			t.Fatalf("bad mode: %v", err)
		}
	})
	t.Run("a package group's cooldown beats the repository's", func(t *testing.T) {
		must(admin, "set", "--package-group", "/*", "--min-age", "1d")
		if v := must(admin, "get", "--package-group", "/*"); proxytest.Pick(v, "cooldown", "minAge") != "1d" {
			t.Fatalf("group get: %v", v)
		}
		// The root group is only the domain default: the repository wins.
		if v := must(admin, "held", "--repository", "app", "--format", "npm", "--package", "left-pad"); proxytest.Pick(v, "source") != "repository app" {
			t.Fatalf("held with a root cooldown: %v", v)
		}
	})
	t.Run("remove", func(t *testing.T) {
		must(admin, "remove", "--repository", "app")
		if v := must(admin, "get", "--repository", "app"); v["cooldown"] != nil {
			t.Fatalf("after remove: %v", v)
		}
		v := must(admin, "held", "--repository", "app", "--format", "npm", "--package", "left-pad")
		if proxytest.Pick(v, "source") != "package group /*" {
			t.Fatalf("after remove the root group's cooldown applies: %v", v)
		}
	})
}
