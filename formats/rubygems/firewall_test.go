package rubygems

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/firewall"
)

var createdAt = regexp.MustCompile(`,created_at:[^,|]*`)

// withCreated is a copy of a fixture gem whose info line says it was
// pushed at t (zero: no created_at).
func withCreated(g *builtGem, t time.Time) *builtGem {
	c := *g
	c.line = createdAt.ReplaceAllString(c.line, "")
	if !t.IsZero() {
		c.line += ",created_at:" + t.UTC().Format(time.RFC3339)
	}
	return &c
}

// startCooldownEnv is an env whose app has a 7-day cooldown; upstream,
// demo_gem 0.9.0 was pushed 60 days ago, 1.0.0 a day ago, 1.1.0.pre.1 has
// no time; rack-lite has none either.
func startCooldownEnv(t *testing.T, c firewall.Cooldown) *env {
	t.Helper()
	c.MinAge = firewall.Duration(7 * 24 * time.Hour)
	now := time.Now()
	return startEnv(t, envOptions{auth: true,
		publish: func(t testing.TB, s *fakeSource) {
			s.publish(
				withCreated(fixture(t, "rack-lite", "2.0.0"), time.Time{}),
				withCreated(fixture(t, "demo_gem", "0.9.0"), now.Add(-60*24*time.Hour)),
				withCreated(fixture(t, "demo_gem", "1.0.0"), now.Add(-24*time.Hour)),
				withCreated(fixture(t, "demo_gem", "1.1.0.pre.1"), time.Time{}),
			)
		},
		configure: func(cfg *proxy.Config) { cfg.Domains[0].Repositories[0].Cooldown = &c },
	})
}

// TestCooldownCompactIndex: the held version leaves /info, /versions and
// the two stay consistent (each gem's MD5 in /versions is the MD5 of its
// /info, so Bundler's incremental fetches hold); deny refuses the .gem; it
// comes back by itself after seven days, still consistent.
func TestCooldownCompactIndex(t *testing.T) {
	e := startCooldownEnv(t, firewall.Cooldown{Mode: firewall.ModeDeny})
	app := e.url("app")
	info := e.get(t, app+"info/demo_gem")
	checkValidators(t, "/info/demo_gem", info)
	if strings.Contains(string(info.body), "\n1.0.0 ") || !strings.Contains(string(info.body), "\n0.9.0 ") {
		t.Fatalf("/info/demo_gem:\n%s", info.body)
	}
	e.checkSelfConsistent(t, "app")
	g := e.get(t, app+"gems/demo_gem-1.0.0.gem")
	if g.status != http.StatusForbidden || !strings.Contains(string(g.body), "until") {
		t.Errorf("held .gem: %d %s", g.status, g.body)
	}
	if g := e.get(t, app+"gems/demo_gem-0.9.0.gem"); g.status != http.StatusOK {
		t.Errorf("aged .gem: %d", g.status)
	}
	e.in.Clock.Advance(7 * 24 * time.Hour)
	if info := e.get(t, app+"info/demo_gem"); !strings.Contains(string(info.body), "\n1.0.0 ") {
		t.Fatalf("after 7 days /info/demo_gem:\n%s", info.body)
	}
	e.checkSelfConsistent(t, "app")
}

// TestCooldownGemAndBundler drives gem and Bundler in both modes: a plain
// install and a bundle resolve take the version that passed the cooldown.
// gem and Bundler resolve every requirement, `-v X` and a Gemfile.lock's
// pins included, from /info alone, which has no mark for "only when pinned
// exactly" (a yanked gem simply leaves it), so an exact pin of the held
// version fails in both modes, before any download (Bundler says the
// locked version "can no longer be found in that source"); in hide mode its .gem is served at its URL
// and installs with `gem install --local`, in deny mode that URL is
// refused with the cooldown's message (body and reason phrase). After
// seven days `bundle update` takes it from Bundler's warm compact-index
// copies without a checksum mismatch.
func TestCooldownGemAndBundler(t *testing.T) {
	for _, mode := range []string{firewall.ModeHide, firewall.ModeDeny} {
		t.Run(mode, func(t *testing.T) {
			// Held even once retained: the hide-mode .gem fetch below
			// retains it, which would offer it from then on.
			e := startCooldownEnv(t, firewall.Cooldown{Mode: mode, ApplyToRetained: true})
			c := newRubyClient(t, e)
			src := e.withCredentials("app")
			out := c.run(t, "gem", "install", "demo_gem", "--clear-sources", "--source", src, "--no-document")
			mustContain(t, "gem install", out, "Successfully installed demo_gem-0.9.0")
			if out, err := c.try(t, "gem", "install", "demo_gem", "-v", "1.0.0", "--clear-sources", "--source", src, "--no-document"); err == nil ||
				!strings.Contains(out, "Could not find a valid gem 'demo_gem' (= 1.0.0)") {
				t.Fatalf("gem resolved the held version, or failed otherwise (%v):\n%s", err, out)
			}
			// A Gemfile.lock pinning it (resolved through team, which has
			// no cooldown) fails as for a yanked gem.
			c.gemfile(t, gemfileFor(e.url("team"), `"demo_gem"`))
			c.run(t, "bundle", "lock")
			lock := strings.ReplaceAll(c.lockfile(t), e.url("team"), e.url("app"))
			mustContain(t, "Gemfile.lock through team", lock, "demo_gem (1.0.0)")
			c.gemfile(t, gemfileFor(e.url("app"), `"demo_gem"`))
			lockPath := filepath.Join(c.dir, "project", "Gemfile.lock")
			if err := os.WriteFile(lockPath, []byte(lock), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := c.try(t, "bundle", "install"); err == nil || !strings.Contains(out, "Your bundle is locked to demo_gem (1.0.0)") ||
				!strings.Contains(out, "no longer be found in that source") {
				t.Fatalf("bundle install of a Gemfile.lock pinning the held version (%v):\n%s", err, out)
			}
			if err := os.Remove(lockPath); err != nil {
				t.Fatal(err)
			}
			g := e.get(t, e.url("app")+"gems/demo_gem-1.0.0.gem")
			if mode == firewall.ModeDeny && (g.status != http.StatusForbidden || !strings.Contains(string(g.body), "release-age cooldown until")) {
				t.Fatalf("deny: the held .gem: %d %s", g.status, g.body)
			}
			if mode == firewall.ModeHide {
				if g.status != http.StatusOK {
					t.Fatalf("hide: the held .gem: %d %s", g.status, g.body)
				}
				path := filepath.Join(t.TempDir(), "demo_gem-1.0.0.gem")
				if err := os.WriteFile(path, g.body, 0o644); err != nil {
					t.Fatal(err)
				}
				out := c.run(t, "gem", "install", "--local", path, "--no-document", "--ignore-dependencies")
				mustContain(t, "gem install --local", out, "Successfully installed demo_gem-1.0.0")
			}
			c.gemfile(t, gemfileFor(e.url("app"), `"demo_gem"`))
			out = c.run(t, "bundle", "install", "--verbose")
			mustContain(t, "bundle install", out, "Bundle complete!")
			mustContain(t, "Gemfile.lock", c.lockfile(t), "demo_gem (0.9.0)")

			e.in.Clock.Advance(7 * 24 * time.Hour)
			out = c.run(t, "bundle", "update", "--verbose")
			mustNotContain(t, "bundle update", out, "does not match the checksum")
			mustContain(t, "Gemfile.lock", c.lockfile(t), "demo_gem (1.0.0)")
		})
	}
}

// TestMaliciousAdvisoryCompactIndex: an OSV advisory (RubyGems ecosystem)
// for one version takes it out of /info, keeps /versions consistent with
// it, and refuses the .gem, retained copy included; removing it restores
// it.
func TestMaliciousAdvisoryCompactIndex(t *testing.T) {
	dir := t.TempDir()
	e := startEnv(t, envOptions{auth: true, configure: func(cfg *proxy.Config) { cfg.Firewall.OSV.Path = dir }})
	app := e.url("app")
	gem := app + "gems/demo_gem-1.0.0.gem"
	if g := e.get(t, gem); g.status != http.StatusOK {
		t.Fatalf("before the advisory: %d", g.status)
	}
	withdraw := e.in.Advise(t, dir, "MAL-2026-6", "RubyGems", "demo_gem", "1.0.0")
	if info := e.get(t, app+"info/demo_gem"); strings.Contains(string(info.body), "\n1.0.0 ") {
		t.Errorf("/info/demo_gem with the advisory:\n%s", info.body)
	}
	e.checkSelfConsistent(t, "app")
	if g := e.get(t, gem); g.status != http.StatusForbidden || !strings.Contains(string(g.body), "MAL-2026-6") {
		t.Errorf("retained .gem with the advisory: %d %s", g.status, g.body)
	}
	withdraw(t)
	if info := e.get(t, app+"info/demo_gem"); !strings.Contains(string(info.body), "\n1.0.0 ") {
		t.Errorf("after removal:\n%s", info.body)
	}
	e.checkSelfConsistent(t, "app")
}
