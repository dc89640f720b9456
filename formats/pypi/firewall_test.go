package pypi

import (
	"net/http"
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

// TestCooldownPages: the held version's files stay on both
// representations of the project page (PEP 503 HTML and PEP 691 JSON) only
// as yanked files whose reason says until when (PEP 592: installers take
// them only for an exact pin), in both modes; the JSON API leaves it out; a
// version without an upload time is held only when missing_time is deny;
// it comes back unyanked by itself once old enough.
func TestCooldownPages(t *testing.T) {
	tests := []struct {
		name     string
		c        firewall.Cooldown
		held     []string // the versions held back
		versions []string
	}{
		{"hide", firewall.Cooldown{}, []string{"1.1.0"}, []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0rc1"}},
		{"deny", firewall.Cooldown{Mode: firewall.ModeDeny}, []string{"1.1.0"}, []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0rc1"}},
		{"missing_time deny", firewall.Cooldown{MissingTime: firewall.MissingDeny}, []string{"1.1.0", "2.0.0rc1"}, []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0rc1"}},
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
			heldFiles := 0
			for _, f := range pg.Files {
				reason, _ := f.Yanked.(string)
				isHeld := slices.ContainsFunc(tt.held, func(v string) bool { return strings.Contains(f.Filename, "-"+v+"-") })
				if isHeld {
					heldFiles++
				}
				switch {
				case isHeld && !strings.Contains(reason, "cooldown"):
					t.Errorf("held file %s: yanked %v, want a reason naming the cooldown", f.Filename, f.Yanked)
				case !isHeld && f.Yanked != false:
					t.Errorf("file %s is yanked: %v", f.Filename, f.Yanked)
				}
			}
			if heldFiles == 0 {
				t.Errorf("the JSON page has no file of %v", tt.held)
			}
			html := e.get(e.repo("app")+"/simple/"+demo+"/", acceptHeader("text/html"))
			if html.Status != http.StatusOK || !strings.Contains(html.String(), "-1.0.0") || strings.Count(html.String(), "data-yanked=") != heldFiles ||
				!strings.Contains(html.String(), "cooldown") {
				t.Errorf("HTML page %d does not mark the %d held files yanked:\n%s", html.Status, heldFiles, html)
			}
			api := e.get(e.repo("app")+"/pypi/"+demo+"/json", nil)
			if api.Status != http.StatusOK || strings.Contains(api.String(), `"`+tt.held[0]+`"`) {
				t.Errorf("JSON API %d lists the held version:\n%s", api.Status, api)
			}
			if team := e.page("team", demo); !slices.Contains(team.Versions, "1.1.0") {
				t.Errorf("team (no cooldown) lacks 1.1.0: %v", team.Versions)
			}
			if tt.c.MissingTime == "" {
				e.in.Clock.Advance(6*24*time.Hour + time.Minute)
				for _, f := range e.page("app", demo).Files {
					if f.Yanked != false {
						t.Errorf("after 7 days %s is yanked: %v", f.Filename, f.Yanked)
					}
				}
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

// TestCooldownPip drives the real pip in both modes: a plain install and
// a range take the version that passed the cooldown; an exact pin of the
// held version (listed as a PEP 592 yanked file) installs in hide mode,
// and fails in deny mode with the cooldown's message in pip's output (the
// yanked reason, and the 403's reason phrase); its direct URL likewise; the
// plain install takes it once it is old enough.
func TestCooldownPip(t *testing.T) {
	for _, mode := range []string{firewall.ModeHide, firewall.ModeDeny} {
		t.Run(mode, func(t *testing.T) {
			e := startCooldownEnv(t, firewall.Cooldown{Mode: mode})
			c := newClients(t, e)
			demoModule := func(version string) string {
				return moduleSourceTrim(e.fx.get(t, setUpstream, demo, version, true).Spec)
			}
			pip := func(args ...string) (string, error) {
				return c.run(c.installer.Path, append([]string{"-m", "pip", "install", "--no-deps", "--cache-dir", t.TempDir(), "--no-input"}, args...)...)
			}
			t.Run("a plain install and a range take the older version", func(t *testing.T) {
				for _, req := range []string{"stock-pile-demo", "stock-pile-demo>=1.0,<1.2"} {
					target := t.TempDir()
					c.pip("app", "install", "--target", target, "--no-deps", req)
					if got := installed(t, target, "stock_pile_demo")["stock_pile_demo"]; got != demoModule("1.0.0") {
						t.Errorf("%s installed %q, want 1.0.0's", req, got)
					}
				}
				// Only 1.1.0 satisfies ~=1.1 here (1.2.0 requires Python
				// 3.99): a range never takes a yanked file.
				if out, err := pip("--target", t.TempDir(), "--index-url", c.index("app"), "stock-pile-demo~=1.1"); err == nil {
					t.Errorf("pip took the held version for ~=1.1:\n%s", out)
				}
			})
			t.Run("an exact pin of the held version", func(t *testing.T) {
				target := t.TempDir()
				out, err := pip("--target", target, "--index-url", c.index("app"), "stock-pile-demo==1.1.0")
				if mode == firewall.ModeHide {
					if !strings.Contains(out, "Reason for being yanked") || !strings.Contains(out, "cooldown until") {
						t.Errorf("pip does not show the cooldown's reason:\n%s", out)
					}
					if err != nil {
						t.Fatalf("hide: pip did not install the pinned held version: %v\n%s", err, out)
					}
					if got := installed(t, target, "stock_pile_demo")["stock_pile_demo"]; got != demoModule("1.1.0") {
						t.Errorf("installed %q, want 1.1.0's", got)
					}
					return
				}
				// pip reads the yanked file's core metadata (PEP 658) first:
				// its 403 says why in the reason phrase pip prints.
				if err == nil || !strings.Contains(out, "403 Client Error: Forbidden: not allowed: stock-pile-demo version 1.1.0") || !strings.Contains(out, "cooldown until") {
					t.Fatalf("deny: pip installed the held version or hid the reason (err %v):\n%s", err, out)
				}
				direct := strings.Replace(e.fileURL("app", e.fx.get(t, setUpstream, demo, "1.1.0", true)), "http://", "http://aws:"+e.token+"@", 1)
				out, err = pip("--target", t.TempDir(), direct)
				if err == nil || !strings.Contains(out, "403") || !strings.Contains(out, "release-age cooldown until") {
					t.Fatalf("deny: pip fetched the held version's file or hid the reason (err %v):\n%s", err, strings.ReplaceAll(out, e.token, "TOKEN"))
				}
			})
			t.Run("it installs once old enough", func(t *testing.T) {
				e.in.Clock.Advance(7 * 24 * time.Hour)
				target := t.TempDir()
				c.pip("app", "install", "--target", target, "--no-deps", "stock-pile-demo==1.1.0")
				if got := installed(t, target, "stock_pile_demo")["stock_pile_demo"]; got != demoModule("1.1.0") {
					t.Errorf("installed %q, want 1.1.0's", got)
				}
			})
		})
	}
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
	withdraw := e.in.Advise(t, dir, "MAL-2026-3", "PyPI", "Stock_Pile.Demo", "1.0.0")
	if pg := e.page("app", demo); slices.Contains(pg.Versions, "1.0.0") {
		t.Errorf("JSON page lists 1.0.0: %v", pg.Versions)
	}
	if html := e.get(e.repo("app")+"/simple/"+demo+"/", acceptHeader("text/html")); strings.Contains(html.String(), d.Filename) {
		t.Errorf("HTML page lists %s", d.Filename)
	}
	if r := e.get(e.fileURL("app", d), nil); r.Status != http.StatusForbidden || !strings.Contains(r.String(), "MAL-2026-3") {
		t.Errorf("retained file with the advisory: %d %s", r.Status, r)
	}
	withdraw(t)
	if pg := e.page("app", demo); !slices.Contains(pg.Versions, "1.0.0") {
		t.Errorf("after removal: %v", pg.Versions)
	}
	if r := e.get(e.fileURL("app", d), nil); r.Status != http.StatusOK {
		t.Errorf("after removal: %d", r.Status)
	}
}
