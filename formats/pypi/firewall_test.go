package pypi

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/firewall"
)

// cooldownUpstream offers the upstream set with PEP 700 upload times
// relative to now: stock-pile-demo 1.1.0 one day old (and not yanked),
// 2.0.0rc1 with none, everything else 60 days old.
func cooldownUpstream(t *testing.T, fx *fixtureSet, now time.Time) *fakePyPI {
	f := newFakePyPI(t)
	var files []*upFile
	for _, d := range fx.Dists {
		if d.Set != setUpstream {
			continue
		}
		uf := &upFile{D: d, UploadTime: now.Add(-60 * 24 * time.Hour).Format(uploadLayout)}
		switch {
		case d.Project == demo && d.Version == "1.1.0":
			uf.UploadTime = now.Add(-24 * time.Hour).Format(uploadLayout)
		case d.Project == demo && d.Version == "2.0.0rc1":
			uf.UploadTime = "none"
		}
		files = append(files, uf)
	}
	f.publish(files...)
	return f
}

// startCooldownEnv is an env whose repository app has a 7-day cooldown.
func startCooldownEnv(t *testing.T, c firewall.Cooldown) *env {
	t.Helper()
	c.MinAge = firewall.Duration(7 * 24 * time.Hour)
	up := cooldownUpstream(t, fixtures(t), time.Now().UTC())
	return startEnv(t, envOptions{upstream: up, edit: func(cfg *proxy.Config) {
		cfg.Domains[0].Repositories[0].Cooldown = &c
	}})
}

// TestCooldownPages: the held version leaves both representations of the
// project page (PEP 503 HTML and PEP 691 JSON, files and versions alike);
// a version without an upload time stays unless missing_time is deny; it
// comes back by itself once old enough.
func TestCooldownPages(t *testing.T) {
	tests := []struct {
		name     string
		c        firewall.Cooldown
		versions []string
	}{
		{"hide", firewall.Cooldown{}, []string{"1.0.0", "1.2.0", "2.0.0rc1"}},
		{"missing_time deny", firewall.Cooldown{MissingTime: firewall.MissingDeny}, []string{"1.0.0", "1.2.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startCooldownEnv(t, tt.c)
			pg := e.page("app", demo)
			got := slices.Clone(pg.Versions)
			slices.Sort(got)
			if !slices.Equal(got, tt.versions) {
				t.Errorf("JSON versions %v, want %v", got, tt.versions)
			}
			for _, f := range pg.Files {
				if strings.Contains(f.Filename, "-1.1.0") {
					t.Errorf("JSON page lists the held file %s", f.Filename)
				}
			}
			html := e.get(e.repo("app")+"/simple/"+demo+"/", acceptHeader("text/html"))
			if html.Status != http.StatusOK || strings.Contains(html.String(), "-1.1.0") || !strings.Contains(html.String(), "-1.0.0") {
				t.Errorf("HTML page %d lists the held version or misses 1.0.0:\n%s", html.Status, html)
			}
			if team := e.page("team", demo); !slices.Contains(team.Versions, "1.1.0") {
				t.Errorf("team (no cooldown) lacks 1.1.0: %v", team.Versions)
			}
			e.in.Clock.Advance(6*24*time.Hour + time.Minute)
			if pg := e.page("app", demo); !slices.Contains(pg.Versions, "1.1.0") {
				t.Errorf("after 7 days: versions %v", pg.Versions)
			}
		})
	}
}

// TestCooldownPypiFiles: deny refuses the held version's file (403 naming
// the version and when it is available), hide serves it.
func TestCooldownPypiFiles(t *testing.T) {
	tests := []struct {
		name   string
		mode   string
		status int
	}{
		{"deny", firewall.ModeDeny, http.StatusForbidden},
		{"hide", firewall.ModeHide, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startCooldownEnv(t, firewall.Cooldown{Mode: tt.mode})
			d := e.fx.get(t, setUpstream, demo, "1.1.0", true)
			r := e.get(e.fileURL("app", d), nil)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r)
			}
			if tt.status == http.StatusForbidden && (!strings.Contains(r.String(), "1.1.0") || !strings.Contains(r.String(), "until")) {
				t.Errorf("refusal does not say why: %s", r)
			}
		})
	}
}

// TestCooldownPip drives the real pip: a plain install takes the version
// that passed the cooldown, the held version's exact file fails in deny
// mode, and the plain install takes it once it is old enough.
func TestCooldownPip(t *testing.T) {
	e := startCooldownEnv(t, firewall.Cooldown{Mode: firewall.ModeDeny})
	c := newClients(t, e)
	demoModule := func(version string) string {
		return moduleSourceTrim(e.fx.get(t, setUpstream, demo, version, true).Spec)
	}
	t.Run("a plain install takes the older version", func(t *testing.T) {
		target := t.TempDir()
		c.pip("app", "install", "--target", target, "--no-deps", "stock-pile-demo")
		if got := installed(t, target, "stock_pile_demo")["stock_pile_demo"]; got != demoModule("1.0.0") {
			t.Errorf("installed %q, want 1.0.0's", got)
		}
	})
	t.Run("an exact pin of the held version fails", func(t *testing.T) {
		out, err := c.run(c.installer.Path, "-m", "pip", "install", "--target", t.TempDir(), "--no-deps", "--index-url", c.index("app"),
			"--cache-dir", t.TempDir(), "--no-input", "stock-pile-demo==1.1.0")
		if err == nil {
			t.Fatalf("pip installed the held version:\n%s", out)
		}
		direct := strings.Replace(e.fileURL("app", e.fx.get(t, setUpstream, demo, "1.1.0", true)), "http://", "http://aws:"+e.token+"@", 1)
		out, err = c.run(c.installer.Path, "-m", "pip", "install", "--target", t.TempDir(), "--no-deps", "--cache-dir", t.TempDir(), "--no-input", direct)
		if err == nil || !strings.Contains(out, "403") {
			t.Fatalf("pip fetched the held version's file (err %v):\n%s", err, strings.ReplaceAll(out, e.token, "TOKEN"))
		}
	})
	t.Run("it installs once old enough", func(t *testing.T) {
		e.in.Clock.Advance(7 * 24 * time.Hour)
		target := t.TempDir()
		c.pip("app", "install", "--target", target, "--no-deps", "stock-pile-demo")
		if got := installed(t, target, "stock_pile_demo")["stock_pile_demo"]; got != demoModule("1.1.0") {
			t.Errorf("installed %q, want 1.1.0's", got)
		}
	})
}

// TestMaliciousAdvisoryPages: an OSV advisory (PyPI ecosystem, the
// project's display name) for one version takes its files out of both page
// representations and refuses them, retained copy included; removing it
// restores them.
func TestMaliciousAdvisoryPages(t *testing.T) {
	dir := t.TempDir()
	e := startEnv(t, envOptions{edit: func(cfg *proxy.Config) { cfg.Firewall.OSV.Path = dir }})
	d := e.fx.get(t, setUpstream, demo, "1.0.0", true)
	if r := e.get(e.fileURL("app", d), nil); r.Status != http.StatusOK {
		t.Fatalf("before the advisory: %d", r.Status)
	}
	advisory := filepath.Join(dir, "MAL-2026-3.json")
	if err := os.WriteFile(advisory, []byte(`{"id":"MAL-2026-3","affected":[{"package":{"ecosystem":"PyPI","name":"Stock_Pile.Demo"},"versions":["1.0.0"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.in.Server.ReloadAdvisories(); err != nil {
		t.Fatal(err)
	}
	if pg := e.page("app", demo); slices.Contains(pg.Versions, "1.0.0") {
		t.Errorf("JSON page lists 1.0.0: %v", pg.Versions)
	}
	if html := e.get(e.repo("app")+"/simple/"+demo+"/", acceptHeader("text/html")); strings.Contains(html.String(), d.Filename) {
		t.Errorf("HTML page lists %s", d.Filename)
	}
	if r := e.get(e.fileURL("app", d), nil); r.Status != http.StatusForbidden || !strings.Contains(r.String(), "MAL-2026-3") {
		t.Errorf("retained file with the advisory: %d %s", r.Status, r)
	}
	if err := os.Remove(advisory); err != nil {
		t.Fatal(err)
	}
	if err := e.in.Server.ReloadAdvisories(); err != nil {
		t.Fatal(err)
	}
	if pg := e.page("app", demo); !slices.Contains(pg.Versions, "1.0.0") {
		t.Errorf("after removal: %v", pg.Versions)
	}
	if r := e.get(e.fileURL("app", d), nil); r.Status != http.StatusOK {
		t.Errorf("after removal: %d", r.Status)
	}
}
