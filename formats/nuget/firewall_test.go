package nuget_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/firewall"
)

// cooldownFeed offers Contoso.Many 1.0.0 published 60 days before now,
// 1.1.0 one day before now and 2.0.0-alpha with no publish time.
func cooldownFeed(t *testing.T, now time.Time) *fakeFeed {
	t.Helper()
	f := newFakeFeed(t)
	f.published = map[string]string{
		"contoso.many/1.0.0":       now.Add(-60 * 24 * time.Hour).Format(time.RFC3339),
		"contoso.many/1.1.0":       now.Add(-24 * time.Hour).Format(time.RFC3339),
		"contoso.many/2.0.0-alpha": "",
	}
	f.add(manyVersions(t)...)
	return f
}

func startCooldown(t *testing.T, c firewall.Cooldown) *stockpile {
	t.Helper()
	c.MinAge = firewall.Duration(7 * 24 * time.Hour)
	return start(t, cooldownFeed(t, time.Now().UTC()), startOptions{edit: func(cfg *proxy.Config) {
		cfg.Domains[0].Repositories[0].Cooldown = &c
	}})
}

// registrationVersions lists the listed versions of the registration
// index, and the unlisted ones apart.
func registrationVersions(t *testing.T, s *stockpile, repo string) (listed, unlisted []string) {
	t.Helper()
	var idx regIndex
	s.getJSON(s.base(repo)+"/v3/registration-semver2/contoso.many/index.json", &idx)
	for _, p := range idx.Items {
		for _, l := range p.Items {
			if l.CatalogEntry.Listed {
				listed = append(listed, l.CatalogEntry.Version)
			} else {
				unlisted = append(unlisted, l.CatalogEntry.Version)
			}
		}
	}
	return listed, unlisted
}

// TestCooldownDocuments: the held version leaves the flat container's
// version list, the registration and search alike; deny refuses its .nupkg
// (the reason in the body and the status line), hide serves it;
// everything comes back by itself after seven days.
func TestCooldownDocuments(t *testing.T) {
	for _, mode := range []string{firewall.ModeHide, firewall.ModeDeny} {
		t.Run(mode, func(t *testing.T) {
			s := startCooldown(t, firewall.Cooldown{Mode: mode})
			want := []string{"1.0.0", "2.0.0-alpha"}
			if got := flatVersions(t, s, "app", "contoso.many"); !cmp.Equal(got, want) {
				t.Errorf("flat container versions %v, want %v", got, want)
			}
			if listed, unlisted := registrationVersions(t, s, "app"); !cmp.Equal(listed, []string{"1.0.0", "2.0.0-Alpha"}) || len(unlisted) > 0 {
				t.Errorf("registration versions: listed %v, unlisted %v", listed, unlisted)
			}
			if a := s.get(s.base("app") + "/v3/flatcontainer/contoso.many/1.0.0/contoso.many.1.0.0.nupkg"); a.code != http.StatusOK {
				t.Fatalf("aged version: %d %s", a.code, a.body)
			}
			if got := s.searchVersions("app", "contoso.many"); !cmp.Equal(got, []string{"1.0.0", "2.0.0-Alpha"}) {
				t.Errorf("search versions %v", got)
			}
			a := s.get(s.base("app") + "/v3/flatcontainer/contoso.many/1.1.0/contoso.many.1.1.0.nupkg")
			if mode == firewall.ModeHide && a.code != http.StatusOK {
				t.Errorf("hide: held version: %d %s", a.code, a.body)
			}
			if mode == firewall.ModeDeny && (a.code != http.StatusForbidden || !strings.Contains(string(a.body), "1.1.0") || !strings.Contains(string(a.body), "until")) {
				t.Errorf("deny: held version: %d %s", a.code, a.body)
			}
			if got := flatVersions(t, s, "team", "contoso.many"); !slices.Contains(got, "1.1.0") {
				t.Errorf("team (no cooldown) lacks 1.1.0: %v", got)
			}
			s.in.Clock.Advance(7 * 24 * time.Hour)
			if got := flatVersions(t, s, "app", "contoso.many"); !slices.Contains(got, "1.1.0") {
				t.Errorf("after 7 days the flat container lacks 1.1.0: %v", got)
			}
			if listed, _ := registrationVersions(t, s, "app"); !slices.Contains(listed, "1.1.0") {
				t.Errorf("after 7 days the registration lacks 1.1.0: %v", listed)
			}
			if a := s.get(s.base("app") + "/v3/flatcontainer/contoso.many/1.1.0/contoso.many.1.1.0.nupkg"); a.code != http.StatusOK {
				t.Errorf("after 7 days: %d %s", a.code, a.body)
			}
		})
	}
}

// TestCooldownNuGetExe drives NuGet.exe in both modes. `install ID` takes
// the version that passed the cooldown. `install ID -Version X` resolves X
// through the registration, from which NuGet.exe also takes "latest",
// unlisted versions included (TestNuGetExeTakesUnlisted), so it cannot be
// told from a plain install: it fails in both modes. A packages.config that pins the held version
// (NuGet.exe restores it from the flat container's .nupkg URL directly)
// installs it in hide mode and fails in deny mode with the cooldown's
// message, from the 403's reason phrase. Once the clock passes its age the
// plain install takes it.
func TestCooldownNuGetExe(t *testing.T) {
	for _, mode := range []string{firewall.ModeHide, firewall.ModeDeny} {
		t.Run(mode, func(t *testing.T) {
			s := startCooldown(t, firewall.Cooldown{Mode: mode})
			n := newNuGetExe(t, s, "app")
			if _, got := n.install("app", "Contoso.Many", ""); !cmp.Equal(got, []string{"Contoso.Many.1.0.0"}) {
				t.Fatalf("installed %v, want Contoso.Many.1.0.0", got)
			}
			if out, err := n.run("install", "Contoso.Many", "-Version", "1.1.0", "-Source", "app", "-OutputDirectory", t.TempDir()); err == nil ||
				!strings.Contains(out, "Package 'Contoso.Many 1.1.0' is not found in the following primary source(s)") {
				t.Fatalf("NuGet.exe resolved the held version, or failed otherwise (%v):\n%s", err, out)
			}
			config := filepath.Join(t.TempDir(), "packages.config")
			if err := os.WriteFile(config, []byte(`<?xml version="1.0" encoding="utf-8"?>
<packages>
  <package id="Contoso.Many" version="1.1.0" targetFramework="net48" />
</packages>
`), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := os.MkdirTemp(t.TempDir(), "restored-*")
			if err != nil {
				t.Fatal(err)
			}
			got, rerr := n.run("install", config, "-Source", "app", "-OutputDirectory", out)
			_, statErr := os.Stat(filepath.Join(out, "Contoso.Many.1.1.0"))
			if mode == firewall.ModeHide && (rerr != nil || statErr != nil) {
				t.Fatalf("hide: packages.config pinning 1.1.0 (err %v, %v):\n%s", rerr, statErr, got)
			}
			if mode == firewall.ModeDeny && (rerr == nil || statErr == nil || !strings.Contains(got, "403 (Forbidden: not allowed: contoso.many version 1.1.0") ||
				!strings.Contains(got, "release-age cooldown until")) {
				t.Fatalf("deny: packages.config pinning 1.1.0 installed it or hid why (err %v):\n%s", rerr, got)
			}
			s.in.Clock.Advance(7 * 24 * time.Hour)
			n.clearCaches()
			if _, got := n.install("app", "Contoso.Many", ""); !cmp.Equal(got, []string{"Contoso.Many.1.1.0"}) {
				t.Fatalf("after 7 days installed %v, want Contoso.Many.1.1.0", got)
			}
		})
	}
}

// TestNuGetExeTakesUnlisted is why a held version leaves the registration
// instead of being served unlisted (NuGet's own "installable by exact
// version only" state): NuGet.exe 5.8's `install ID` resolves the latest
// version with unlisted versions included (its InstallCommand passes
// includeUnlisted: true; NuGet/Home#3872), so it would take a held version
// marked unlisted, as it takes one unlisted upstream here. Its resolver
// does prefer listed versions for a dependency range, even with
// -DependencyVersion Highest.
func TestNuGetExeTakesUnlisted(t *testing.T) {
	f := newFakeFeed(t)
	f.unlisted["contoso.many/1.1.0"] = true
	f.add(manyVersions(t)...)
	f.add(pack(t, spec{id: "Contoso.User", version: "1.0.0", deps: []specDep{{"Contoso.Many", "[1.0.0, )"}}}, "1.0.0"))
	s := start(t, f, startOptions{})
	if listed, unlisted := registrationVersions(t, s, "app"); !cmp.Equal(unlisted, []string{"1.1.0"}) {
		t.Fatalf("registration: listed %v, unlisted %v", listed, unlisted)
	}
	n := newNuGetExe(t, s, "app")
	if _, got := n.install("app", "Contoso.Many", ""); !cmp.Equal(got, []string{"Contoso.Many.1.1.0"}) {
		t.Errorf("install Contoso.Many installed %v, want the unlisted Contoso.Many.1.1.0", got)
	}
	if _, got := n.install("app", "Contoso.User", "", "-DependencyVersion", "Highest"); !cmp.Equal(got, []string{"Contoso.Many.1.0.0", "Contoso.User.1.0.0"}) {
		t.Errorf("a dependency range installed %v, want the listed Contoso.Many.1.0.0", got)
	}
}

// TestMaliciousAdvisoryDocuments: an OSV advisory (NuGet ecosystem, the
// id in any case) for one version takes it out of the flat container and
// the registration and refuses its .nupkg, retained copy included;
// removing it restores both.
func TestMaliciousAdvisoryDocuments(t *testing.T) {
	dir := t.TempDir()
	s := start(t, newFakeFeed(t, manyVersions(t)...), startOptions{edit: func(cfg *proxy.Config) { cfg.Firewall.OSV.Path = dir }})
	nupkg := s.base("app") + "/v3/flatcontainer/contoso.many/1.1.0/contoso.many.1.1.0.nupkg"
	if a := s.get(nupkg); a.code != http.StatusOK {
		t.Fatalf("before the advisory: %d", a.code)
	}
	withdraw := s.in.Advise(t, dir, "MAL-2026-4", "NuGet", "Contoso.Many", "1.1.0")
	if got := flatVersions(t, s, "app", "contoso.many"); slices.Contains(got, "1.1.0") {
		t.Errorf("flat container: %v", got)
	}
	if listed, unlisted := registrationVersions(t, s, "app"); slices.Contains(listed, "1.1.0") || slices.Contains(unlisted, "1.1.0") {
		t.Errorf("registration: %v %v", listed, unlisted)
	}
	if a := s.get(nupkg); a.code != http.StatusForbidden || !strings.Contains(string(a.body), "MAL-2026-4") {
		t.Errorf("retained .nupkg with the advisory: %d %s", a.code, a.body)
	}
	withdraw(t)
	if got := flatVersions(t, s, "app", "contoso.many"); !slices.Contains(got, "1.1.0") {
		t.Errorf("after removal: %v", got)
	}
	if a := s.get(nupkg); a.code != http.StatusOK {
		t.Errorf("after removal: %d", a.code)
	}
}
