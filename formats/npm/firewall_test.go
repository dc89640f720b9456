package npm

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/firewall"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// cooldownEnv is an env whose repository app has a 7-day cooldown, and
// whose upstream left-pad-lite has 1.0.0 published 60 days ago, 1.1.0 one
// day ago (the upstream's latest) and 2.0.0-beta.1 with no publish time.
func cooldownEnv(t *testing.T, c firewall.Cooldown) *env {
	t.Helper()
	return cooldownEnvConfig(t, c, func(*proxy.Config) {})
}

// cooldownEnvConfig is cooldownEnv with edit applied to the config too.
func cooldownEnvConfig(t *testing.T, c firewall.Cooldown, edit func(*proxy.Config)) *env {
	t.Helper()
	c.MinAge = firewall.Duration(7 * 24 * time.Hour)
	e := newEnvConfig(t, nil, upstream.Options{}, func(cfg *proxy.Config) {
		cfg.Domains[0].Repositories[0].Cooldown = &c
		edit(cfg)
	})
	now := e.in.Clock.Now().UTC()
	e.serveUpstreamAt("left-pad-lite", []string{"1.0.0", "1.1.0", "2.0.0-beta.1"},
		map[string]string{"latest": "1.1.0", "beta": "2.0.0-beta.1"},
		map[string]string{"1.0.0": now.Add(-60 * 24 * time.Hour).Format(timeFormat), "1.1.0": now.Add(-24 * time.Hour).Format(timeFormat), "2.0.0-beta.1": ""})
	return e
}

// mustRetain fetches tarball through app and fails unless app retained
// left-pad-lite 1.1.0.
func mustRetain(t *testing.T, e *env, tarball string) {
	t.Helper()
	e.get("app", tarball).must(t, http.StatusOK)
	if e.record("app", pkgOf("left-pad-lite"), "1.1.0") == nil {
		t.Fatal("1.1.0 was not retained")
	}
}

// wantOfferedAgain checks that app offers left-pad-lite 1.1.0 as latest
// again and serves its tarball, once the hold ended (when says how).
func wantOfferedAgain(t *testing.T, e *env, tarball, when string) {
	t.Helper()
	if p := e.packument("app", "left-pad-lite"); p.Tags["latest"] != "1.1.0" {
		t.Errorf("%s: tags %v", when, p.Tags)
	}
	e.get("app", tarball).must(t, http.StatusOK)
}

func sortedKeys[V any](m map[string]V) []string {
	out := keys(m)
	sort.Strings(out)
	return out
}

// TestCooldownPackument: a held version leaves versions, time and the
// dist-tags of both packuments; latest moves to the newest stable version
// left; it comes back by itself when the clock passes its age, with no
// stale rendered document; repositories without a cooldown see everything.
func TestCooldownPackument(t *testing.T) {
	e := cooldownEnv(t, firewall.Cooldown{Mode: firewall.ModeDeny})
	tests := []struct {
		name     string
		accept   string
		versions []string
		tags     map[string]string
	}{
		{"full", "application/json", []string{"1.0.0", "2.0.0-beta.1"}, map[string]string{"latest": "1.0.0", "beta": "2.0.0-beta.1"}},
		{"corgi", acceptCorgi, []string{"1.0.0", "2.0.0-beta.1"}, map[string]string{"latest": "1.0.0", "beta": "2.0.0-beta.1"}},
	}
	etags := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second answer comes from the rendered-document cache
				r := e.get("app", "left-pad-lite", "Accept", tt.accept).must(t, http.StatusOK)
				var p packument
				r.json(t, &p)
				if diff := cmp.Diff(tt.versions, sortedKeys(p.Versions)); diff != "" {
					t.Errorf("versions (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.tags, p.Tags); diff != "" {
					t.Errorf("dist-tags (-want +got):\n%s", diff)
				}
				if _, ok := p.Time["1.1.0"]; ok {
					t.Errorf("time names the held 1.1.0: %v", p.Time)
				}
				etags[tt.name] = r.header.Get("ETag")
			}
		})
	}
	t.Run("version document of the held version is 404", func(t *testing.T) {
		e.get("app", "left-pad-lite/1.1.0").npmError(t, http.StatusNotFound)
	})
	t.Run("a repository without a cooldown sees it", func(t *testing.T) {
		if p := e.packument("team", "left-pad-lite"); p.Tags["latest"] != "1.1.0" || len(p.Versions) != 3 {
			t.Errorf("team: versions %v tags %v", keys(p.Versions), p.Tags)
		}
	})
	t.Run("it ages in with no restart", func(t *testing.T) {
		e.in.Clock.Advance(6*24*time.Hour + time.Minute)
		r := e.get("app", "left-pad-lite", "Accept", "application/json", "If-None-Match", etags["full"]).must(t, http.StatusOK)
		var p packument
		r.json(t, &p)
		if p.Tags["latest"] != "1.1.0" || p.Time["1.1.0"] == "" || len(p.Versions) != 3 {
			t.Errorf("after 7 days: versions %v tags %v", keys(p.Versions), p.Tags)
		}
		c := e.packument("app", "left-pad-lite", "Accept", acceptCorgi)
		if c.Tags["latest"] != "1.1.0" {
			t.Errorf("corgi after 7 days: tags %v", c.Tags)
		}
		e.get("app", "left-pad-lite/-/left-pad-lite-1.1.0.tgz").must(t, http.StatusOK)
	})
}

// TestCooldownFiles: deny refuses the held version's tarball with 403 in
// npm's error shape, naming the version, its publish time and when it is
// available; hide serves it (a lockfile still installs); a version with no
// publish time is held when missing_time is deny.
func TestCooldownFiles(t *testing.T) {
	tests := []struct {
		name     string
		c        firewall.Cooldown
		file     string
		status   int
		messages []string
	}{
		{"deny refuses a held version", firewall.Cooldown{Mode: firewall.ModeDeny}, "left-pad-lite-1.1.0.tgz", http.StatusForbidden,
			[]string{"1.1.0", "published", "until"}},
		{"deny serves an aged version", firewall.Cooldown{Mode: firewall.ModeDeny}, "left-pad-lite-1.0.0.tgz", http.StatusOK, nil},
		{"deny lets a version without a time through by default", firewall.Cooldown{Mode: firewall.ModeDeny}, "left-pad-lite-2.0.0-beta.1.tgz", http.StatusOK, nil},
		{"hide serves a held version by exact URL", firewall.Cooldown{Mode: firewall.ModeHide}, "left-pad-lite-1.1.0.tgz", http.StatusOK, nil},
		{"missing_time deny refuses a version without a time", firewall.Cooldown{Mode: firewall.ModeDeny, MissingTime: firewall.MissingDeny},
			"left-pad-lite-2.0.0-beta.1.tgz", http.StatusForbidden, []string{"2.0.0-beta.1", "no known publish time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cooldownEnv(t, tt.c)
			r := e.get("app", "left-pad-lite/-/"+tt.file)
			if tt.status != http.StatusForbidden {
				r.must(t, tt.status)
				if !strings.HasPrefix(string(r.body), "\x1f\x8b") {
					t.Errorf("body is not a tarball")
				}
				return
			}
			msg := r.npmError(t, tt.status)
			for _, want := range tt.messages {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not name %q", msg, want)
				}
				// The reason phrase, for clients that print no body.
				if !strings.HasPrefix(r.line, "403 Forbidden: not allowed: left-pad-lite version") || !strings.Contains(r.line, want) {
					t.Errorf("status line %q does not name %q", r.line, want)
				}
			}
			metrics := e.do(http.MethodGet, e.in.URL+"/-/metrics", nil).must(t, http.StatusOK)
			for _, want := range []string{`stockpile_firewall_refused_total{format="npm",reason="cooldown"} 1`, `stockpile_firewall_held_total{format="npm",mode="deny"}`} {
				if !strings.Contains(string(metrics.body), want) {
					t.Errorf("/-/metrics has no %s", want)
				}
			}
			if e.record("app", pkgOf("left-pad-lite"), strings.TrimSuffix(strings.TrimPrefix(tt.file, "left-pad-lite-"), ".tgz")) != nil {
				t.Errorf("a refused version was retained")
			}
		})
	}
}

// TestCooldownApplyToRetained: a version retained before a cooldown holds
// it (fetched by exact URL in hide mode) stays offered by default; with
// apply_to_retained it leaves the packument like any held version, and in
// deny mode its stored tarball is refused too.
func TestCooldownApplyToRetained(t *testing.T) {
	tests := []struct {
		name    string
		c       firewall.Cooldown
		offered bool
		status  int
	}{
		{"by default a retained version stays", firewall.Cooldown{Mode: firewall.ModeDeny}, true, http.StatusOK},
		{"apply_to_retained, hide", firewall.Cooldown{Mode: firewall.ModeHide, ApplyToRetained: true}, false, http.StatusOK},
		{"apply_to_retained, deny", firewall.Cooldown{Mode: firewall.ModeDeny, ApplyToRetained: true}, false, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cooldownEnv(t, firewall.Cooldown{Mode: firewall.ModeHide})
			tarball := "left-pad-lite/-/left-pad-lite-1.1.0.tgz"
			mustRetain(t, e, tarball)
			c := tt.c
			c.MinAge = firewall.Duration(7 * 24 * time.Hour)
			if _, err := e.in.Server.Registry().SetRepositoryCooldown(context.Background(), "acme", "app", &c); err != nil {
				t.Fatal(err)
			}
			for _, accept := range []string{"application/json", acceptCorgi} {
				var p packument
				e.get("app", "left-pad-lite", "Accept", accept).must(t, http.StatusOK).json(t, &p)
				if _, ok := p.Versions["1.1.0"]; ok != tt.offered {
					t.Errorf("%s: 1.1.0 offered %v, want %v (versions %v, tags %v)", accept, ok, tt.offered, keys(p.Versions), p.Tags)
				}
			}
			for range 2 { // the second from the hot cache, when it was served
				r := e.get("app", tarball)
				if tt.status == http.StatusForbidden {
					if msg := r.npmError(t, tt.status); !strings.Contains(msg, "cooldown") {
						t.Errorf("refusal %q", msg)
					}
				} else {
					r.must(t, tt.status)
				}
			}
			e.in.Clock.Advance(7 * 24 * time.Hour)
			wantOfferedAgain(t, e, tarball, "after 7 days")
		})
	}
}

// TestCooldownRetainedOfferedAtOnce: a held version fetched by its exact
// URL in hide mode is retained, and from then on offered: the packuments
// rendered (and kept) before it was retained are rebuilt at once, not when
// they expire.
func TestCooldownRetainedOfferedAtOnce(t *testing.T) {
	e := cooldownEnv(t, firewall.Cooldown{Mode: firewall.ModeHide})
	for _, accept := range []string{"application/json", acceptCorgi} {
		for range 2 { // kept from the second rendering on
			if p := e.packument("app", "left-pad-lite", "Accept", accept); p.Versions["1.1.0"] != nil {
				t.Fatalf("%s: the held version is offered before it is retained", accept)
			}
		}
	}
	mustRetain(t, e, "left-pad-lite/-/left-pad-lite-1.1.0.tgz")
	for _, accept := range []string{"application/json", acceptCorgi} {
		if p := e.packument("app", "left-pad-lite", "Accept", accept); p.Versions["1.1.0"] == nil || p.Tags["latest"] != "1.1.0" {
			t.Errorf("%s: once retained: versions %v, tags %v", accept, keys(p.Versions), p.Tags)
		}
	}
}

// TestCooldownNpmClient drives the real npm: a plain install takes the
// version that passed the cooldown, the held version's exact tarball URL
// fails in deny mode with the reason in npm's output, and installs by
// itself once the clock passes its age.
func TestCooldownNpmClient(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	e := cooldownEnv(t, firewall.Cooldown{Mode: firewall.ModeDeny})
	dir, _ := clientProject(t, e, "npm")
	npm := func(t *testing.T, wantOK bool, args ...string) string {
		t.Helper()
		cmd := exec.Command("npm", args...)
		cmd.Dir = filepath.Join(dir, "project")
		cmd.Env = npmEnv(dir, "npm_config_registry="+e.url("app", ""), "npm_config_prefer_online=true")
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("npm %s: %v (want ok=%v)\n%s", strings.Join(args, " "), err, wantOK, out)
		}
		return string(out)
	}
	installed := func(t *testing.T) string { return installedVersion(t, filepath.Join(dir, "project"), "left-pad-lite") }
	t.Run("a plain install takes the older version", func(t *testing.T) {
		npm(t, true, "install", "--ignore-scripts", "left-pad-lite")
		if v := installed(t); v != "1.0.0" {
			t.Errorf("installed %s, want 1.0.0", v)
		}
	})
	t.Run("a range never selects the held version", func(t *testing.T) {
		npm(t, true, "install", "--ignore-scripts", "left-pad-lite@^1.0.0")
		if v := installed(t); v != "1.0.0" {
			t.Errorf("installed %s, want 1.0.0", v)
		}
	})
	t.Run("an exact pin fails in deny mode with the reason", func(t *testing.T) {
		out := npm(t, false, "install", "--ignore-scripts", e.url("app", "left-pad-lite/-/left-pad-lite-1.1.0.tgz"))
		if !strings.Contains(out, "403") || !strings.Contains(out, "cooldown") {
			t.Errorf("npm output does not show the refusal:\n%s", out)
		}
		// The packument's policyRestrictions: npm picks the held version
		// for the exact spec and refuses it with the cooldown's message.
		out = npm(t, false, "install", "--ignore-scripts", "left-pad-lite@1.1.0")
		if !strings.Contains(out, "E403") || !strings.Contains(out, "policy violations") || !strings.Contains(out, "release-age cooldown until") {
			t.Errorf("npm install left-pad-lite@1.1.0 does not show the cooldown:\n%s", out)
		}
		if v := installed(t); v != "1.0.0" {
			t.Errorf("installed %s after the refused pin, want 1.0.0", v)
		}
	})
	t.Run("it installs once old enough", func(t *testing.T) {
		e.in.Clock.Advance(7 * 24 * time.Hour)
		npm(t, true, "install", "--ignore-scripts", "left-pad-lite@latest")
		if v := installed(t); v != "1.1.0" {
			t.Errorf("installed %s, want 1.1.0", v)
		}
	})
}

// TestMaliciousAdvisory: an OSV advisory for one version blocks it from
// the packument (latest moves back) and refuses its tarball in every mode,
// including the copy a repository retained before the advisory was
// loaded; removing the advisory restores it.
func TestMaliciousAdvisory(t *testing.T) {
	dir := t.TempDir()
	e := newEnvConfig(t, nil, upstream.Options{}, func(cfg *proxy.Config) {
		cfg.Firewall.OSV.Path = dir
	})
	tarball := "left-pad-lite/-/left-pad-lite-1.1.0.tgz"
	mustRetain(t, e, tarball) // before the advisory
	before := e.get("app", "left-pad-lite", "Accept", "application/json").must(t, http.StatusOK)

	withdraw := e.in.Advise(t, dir, "MAL-2026-1", "npm", "left-pad-lite", "1.1.0")
	t.Run("left out of the packument", func(t *testing.T) {
		for _, accept := range []string{"application/json", acceptCorgi} {
			r := e.get("app", "left-pad-lite", "Accept", accept, "If-None-Match", before.header.Get("ETag")).must(t, http.StatusOK)
			var p packument
			r.json(t, &p)
			if _, ok := p.Versions["1.1.0"]; ok || p.Tags["latest"] != "1.0.0" {
				t.Errorf("%s: versions %v tags %v", accept, keys(p.Versions), p.Tags)
			}
		}
	})
	t.Run("the retained tarball is refused naming the advisory", func(t *testing.T) {
		for range 2 {
			msg := e.get("app", tarball).npmError(t, http.StatusForbidden)
			if !strings.Contains(msg, "MAL-2026-1") || !strings.Contains(msg, "1.1.0") {
				t.Errorf("message %q", msg)
			}
		}
		e.get("team", tarball).npmError(t, http.StatusForbidden)
		e.get("app", "left-pad-lite/-/left-pad-lite-1.0.0.tgz").must(t, http.StatusOK)
	})
	t.Run("removing the advisory restores it", func(t *testing.T) {
		withdraw(t)
		wantOfferedAgain(t, e, tarball, "after removal")
	})
}

// TestCooldownPnpmClient: pnpm (which reads the abbreviated packument) takes
// the version that passed the cooldown for a plain add and a range, and the
// held one once the clock passes its age.
func TestCooldownPnpmClient(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	e := cooldownEnv(t, firewall.Cooldown{Mode: firewall.ModeDeny})
	dir, pnpm := clientProject(t, e, "pnpm")
	installed := func(t *testing.T) string { return installedVersion(t, filepath.Join(dir, "project"), "left-pad-lite") }
	pnpm(t, "add", "--ignore-scripts", "left-pad-lite")
	if v := installed(t); v != "1.0.0" {
		t.Fatalf("pnpm add installed %s, want 1.0.0", v)
	}
	pnpm(t, "add", "--ignore-scripts", "left-pad-lite@^1.0.0")
	if v := installed(t); v != "1.0.0" {
		t.Fatalf("pnpm add ^1.0.0 installed %s, want 1.0.0", v)
	}
	e.in.Clock.Advance(7 * 24 * time.Hour)
	pnpm(t, "add", "--ignore-scripts", "left-pad-lite@latest")
	if v := installed(t); v != "1.1.0" {
		t.Fatalf("after 7 days pnpm installed %s, want 1.1.0", v)
	}
}

// TestCooldownNpmClientHide: in hide mode a plain install still takes the
// older version; npm asks for the same packument for an exact spec as for a
// range, so the held version is not in it (`npm install pkg@1.1.0` fails
// with ETARGET), but a lockfile pinning it installs with npm ci, and so
// does its hard-coded tarball URL.
func TestCooldownNpmClientHide(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	e := cooldownEnv(t, firewall.Cooldown{Mode: firewall.ModeHide, ApplyToRetained: true}) // held even once retained
	dir, npm := clientProject(t, e, "npm")
	version := func(t *testing.T) string { return installedVersion(t, filepath.Join(dir, "project"), "left-pad-lite") }
	npm(t, "install", "--ignore-scripts", "--no-audit", "left-pad-lite")
	if v := version(t); v != "1.0.0" {
		t.Fatalf("plain install took %s, want 1.0.0", v)
	}
	if out, err := clientCommand(e, dir, "npm", "install", "--ignore-scripts", "--no-audit", "left-pad-lite@1.1.0").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "ETARGET") {
		t.Fatalf("npm install left-pad-lite@1.1.0 found the held version (%v):\n%s", err, out)
	}
	// A lockfile that pins the held version (a teammate's, written before
	// the hold) installs with npm ci, which reads no packument.
	lockPath := filepath.Join(dir, "project", "package-lock.json")
	lock, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	tgz := e.get("app", "left-pad-lite/-/left-pad-lite-1.1.0.tgz").must(t, http.StatusOK).body
	sum := sha512.Sum512(tgz)
	var l map[string]any
	if err := json.Unmarshal(lock, &l); err != nil {
		t.Fatal(err)
	}
	entry := l["packages"].(map[string]any)["node_modules/left-pad-lite"].(map[string]any)
	entry["version"] = "1.1.0"
	entry["resolved"] = e.url("app", "left-pad-lite/-/left-pad-lite-1.1.0.tgz")
	entry["integrity"] = "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	if p := e.packument("app", "left-pad-lite"); p.Versions["1.1.0"] != nil {
		t.Fatalf("the packument offers the held version: %v", keys(p.Versions))
	}
	lock, _ = json.Marshal(l)
	if err := os.WriteFile(lockPath, lock, 0o644); err != nil {
		t.Fatal(err)
	}
	npm(t, "ci", "--ignore-scripts", "--no-audit")
	if v := version(t); v != "1.1.0" {
		t.Fatalf("npm ci of a lockfile pinning the held version installed %s, want 1.1.0", v)
	}
	npm(t, "install", "--ignore-scripts", "--no-audit", e.url("app", "left-pad-lite/-/left-pad-lite-1.1.0.tgz"))
	if v := version(t); v != "1.1.0" {
		t.Fatalf("the exact URL installed %s, want 1.1.0", v)
	}
}

// TestDomainLists: the domain's blocklist blocks a version whatever its
// age; its allowlist exempts a version from the cooldown, and from a
// known-malicious advisory only with override_malicious.
func TestDomainLists(t *testing.T) {
	tests := []struct {
		name     string
		lists    firewall.Lists
		advisory bool
		versions []string
		refused  string // a tarball refused with 403, naming why
		why      string
	}{
		{"the blocklist blocks an aged version",
			firewall.Lists{Block: []firewall.Rule{{Package: "/npm//left-pad-lite$", Versions: []string{"1.0.0"}, Reason: "incident 42"}}},
			false, []string{"2.0.0-beta.1"}, "left-pad-lite-1.0.0.tgz", "incident 42"},
		{"the allowlist beats the cooldown",
			firewall.Lists{Allow: []firewall.Rule{{Package: "/npm//left-pad-lite$", Versions: []string{"1.1.0"}, Reason: "vetted"}}},
			false, []string{"1.0.0", "1.1.0", "2.0.0-beta.1"}, "", ""},
		{"the allowlist does not beat an advisory",
			firewall.Lists{Allow: []firewall.Rule{{Package: "/npm//left-pad-lite$", Versions: []string{"1.1.0"}, Reason: "vetted"}}},
			true, []string{"1.0.0", "2.0.0-beta.1"}, "left-pad-lite-1.1.0.tgz", "MAL-2026-7"},
		{"unless it overrides it",
			firewall.Lists{Allow: []firewall.Rule{{Package: "/npm//left-pad-lite$", Versions: []string{"1.1.0"}, Reason: "false positive", OverrideMalicious: true}}},
			true, []string{"1.0.0", "1.1.0", "2.0.0-beta.1"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.advisory {
				doc := `{"id":"MAL-2026-7","affected":[{"package":{"ecosystem":"npm","name":"left-pad-lite"},"versions":["1.1.0"]}]}`
				if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte(doc), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			lists := tt.lists
			e := cooldownEnvConfig(t, firewall.Cooldown{Mode: firewall.ModeDeny}, func(cfg *proxy.Config) {
				cfg.Domains[0].Firewall = &lists
				cfg.Firewall.OSV.Path = dir
			})
			p := e.packument("app", "left-pad-lite")
			if got := sortedKeys(p.Versions); !slices.Equal(got, tt.versions) {
				t.Errorf("versions %v, want %v", got, tt.versions)
			}
			if tt.refused != "" {
				if msg := e.get("app", "left-pad-lite/-/"+tt.refused).npmError(t, http.StatusForbidden); !strings.Contains(msg, tt.why) {
					t.Errorf("refusal %q does not say %q", msg, tt.why)
				}
			}
		})
	}
}

// TestCooldownPnpmLockfile: pnpm ignores policyRestrictions and sees a held
// version as absent, so `pnpm add left-pad-lite@1.1.0` fails in both modes;
// but a pnpm-lock.yaml pinning it (written before the hold) installs with
// --frozen-lockfile, which fetches the tarball without the packument: in
// hide mode it installs; in deny mode pnpm fails printing the 403's reason
// phrase, the cooldown's message, and installs it once the clock passes
// its age.
func TestCooldownPnpmLockfile(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	for _, mode := range []string{firewall.ModeHide, firewall.ModeDeny} {
		t.Run(mode, func(t *testing.T) {
			// Held even once retained: pinLockfile reads its integrity through team.
			e := cooldownEnv(t, firewall.Cooldown{Mode: mode, ApplyToRetained: true})
			dir, pnpm := clientProject(t, e, "pnpm")
			project := filepath.Join(dir, "project")
			installed := func() string { return installedVersion(t, project, "left-pad-lite") }
			pnpm(t, "add", "--ignore-scripts", "left-pad-lite@^1.0.0")
			if v := installed(); v != "1.0.0" {
				t.Fatalf("pnpm add installed %s, want 1.0.0", v)
			}
			if out, err := clientCommand(e, dir, "pnpm", "add", "--ignore-scripts", "left-pad-lite@1.1.0").CombinedOutput(); err == nil || !strings.Contains(string(out), "ERR_PNPM_NO_MATCHING_VERSION") {
				t.Fatalf("pnpm add left-pad-lite@1.1.0 found the held version (%v):\n%s", err, out)
			}
			pinLockfile(t, e, filepath.Join(project, "pnpm-lock.yaml"), "1.0.0", "1.1.0")
			if err := os.RemoveAll(filepath.Join(project, "node_modules")); err != nil {
				t.Fatal(err)
			}
			b, err := clientCommand(e, dir, "pnpm", "install", "--frozen-lockfile", "--ignore-scripts").CombinedOutput()
			out := string(b)
			switch mode {
			case firewall.ModeHide:
				if err != nil || installed() != "1.1.0" {
					t.Fatalf("hide: the lockfile's pin installed %q (%v):\n%s", installed(), err, out)
				}
			case firewall.ModeDeny:
				if err == nil || installed() == "1.1.0" || !strings.Contains(out, "ERR_PNPM_FETCH_403") ||
					!strings.Contains(out, "left-pad-lite version 1.1.0 was published") || !strings.Contains(out, "release-age cooldown until") {
					t.Fatalf("deny: the lockfile's pin installed %q or hid why (%v):\n%s", installed(), err, out)
				}
				e.in.Clock.Advance(7 * 24 * time.Hour)
				pnpm(t, "install", "--frozen-lockfile", "--ignore-scripts")
				if v := installed(); v != "1.1.0" {
					t.Fatalf("after 7 days the lockfile installed %q, want 1.1.0", v)
				}
			}
		})
	}
}

// pinLockfile rewrites a pnpm-lock.yaml that resolved left-pad-lite to from
// so that it pins to instead, with to's integrity.
func pinLockfile(t *testing.T, e *env, path, from, to string) {
	t.Helper()
	lock, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	integrity := func(v string) string {
		sum := sha512.Sum512(e.get("team", "left-pad-lite/-/left-pad-lite-"+v+".tgz").must(t, http.StatusOK).body)
		return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	}
	s := string(lock)
	if !strings.Contains(s, integrity(from)) || !strings.Contains(s, "left-pad-lite@"+from) {
		t.Fatalf("pnpm-lock.yaml does not pin %s:\n%s", from, s)
	}
	s = strings.ReplaceAll(s, integrity(from), integrity(to))
	s = strings.ReplaceAll(s, "left-pad-lite@"+from, "left-pad-lite@"+to)
	s = strings.ReplaceAll(s, "version: "+from, "version: "+to)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
