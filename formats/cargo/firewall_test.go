package cargo_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/firewall"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// cooldownRegistry publishes the dependency chain and long-crate-name 1.0.0
// with a pubtime 60 days before now, long-crate-name 1.1.0 with one a day
// before now, and Mixed_Case 0.1.0 with none.
func cooldownRegistry(t *testing.T, now time.Time) *registry {
	t.Helper()
	reg := newRegistry(t, styleMarkers)
	old, fresh := now.Add(-60*24*time.Hour).Format(time.RFC3339), now.Add(-24*time.Hour).Format(time.RFC3339)
	for _, id := range []string{"a@0.1.0", "bb@0.1.0", "c_d@0.1.0", "long-crate-name@1.0.0", "long-crate-name@1.1.0", "Mixed_Case@0.1.0"} {
		name, version, _ := strings.Cut(id, "@")
		c := fixture(t, name, version)
		ln := line(c, false)
		switch id {
		case "long-crate-name@1.1.0":
			ln = strings.TrimSuffix(ln, "}") + `,"pubtime":"` + fresh + `"}`
		case "Mixed_Case@0.1.0":
		default:
			ln = strings.TrimSuffix(ln, "}") + `,"pubtime":"` + old + `"}`
		}
		reg.publishLine(c, ln)
		reg.DL.Handle(reg.dlPath(c), upstreamtest.Response{Body: c.bytes, ContentType: "application/octet-stream"})
	}
	return reg
}

func cooldownStockpile(t *testing.T, reg *registry, c firewall.Cooldown) *proxytest.Instance {
	t.Helper()
	c.MinAge = firewall.Duration(7 * 24 * time.Hour)
	return stockpile(t, reg, upstream.Options{}, func(cfg *proxy.Config) {
		cfg.Domains[0].Repositories[0].Cooldown = &c
	})
}

// TestCooldownSparseIndex: the held version's line stays in the sparse
// index file only yanked (Cargo never selects a yanked version for a
// requirement; a lockfile or `cargo update --precise` takes it); its .crate
// is served in hide mode and refused in cargo's error shape in deny mode; a
// version with no pubtime is held only when missing_time is deny; the line
// comes back unyanked by itself once the version is old enough.
func TestCooldownSparseIndex(t *testing.T) {
	tests := []struct {
		name       string
		c          firewall.Cooldown
		crate      string
		wantLines  []string
		heldLines  []string
		wantYanked int
		downloadOK bool
	}{
		{"deny", firewall.Cooldown{Mode: firewall.ModeDeny}, "long-crate-name", []string{`"vers":"1.0.0"`, `"vers":"1.1.0"`}, nil, 1, false},
		{"hide", firewall.Cooldown{}, "long-crate-name", []string{`"vers":"1.0.0"`, `"vers":"1.1.0"`}, nil, 1, true},
		{"missing_time allow", firewall.Cooldown{}, "mixed_case", []string{`"vers":"0.1.0"`}, nil, 0, true},
		{"missing_time deny", firewall.Cooldown{MissingTime: firewall.MissingDeny}, "mixed_case", []string{`"vers":"0.1.0"`}, nil, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := cooldownRegistry(t, time.Now().UTC())
			in := cooldownStockpile(t, reg, tt.c)
			url := in.URL + "/acme/cargo/app/" + indexPath(tt.crate)
			r := get(t, url)
			if len(tt.wantLines) == 0 {
				if r.Code != http.StatusNotFound {
					t.Fatalf("index of a crate with every version held: %d %s", r.Code, r.Body)
				}
			} else if r.Code != http.StatusOK {
				t.Fatalf("index: %d %s", r.Code, r.Body)
			}
			for _, w := range tt.wantLines {
				if !strings.Contains(r.Body, w) {
					t.Errorf("index lacks %s:\n%s", w, r.Body)
				}
			}
			for _, h := range tt.heldLines {
				if strings.Contains(r.Body, h) {
					t.Errorf("index lists the held %s:\n%s", h, r.Body)
				}
			}
			if got := strings.Count(r.Body, `"yanked":true`); got != tt.wantYanked {
				t.Errorf("index has %d yanked lines, want %d:\n%s", got, tt.wantYanked, r.Body)
			}
			if tt.crate == "long-crate-name" {
				d := get(t, in.URL+"/acme/cargo/app/api/v1/crates/long-crate-name/1.1.0/download")
				if tt.downloadOK != (d.Code == http.StatusOK) {
					t.Fatalf("download of the held version: %d %s", d.Code, d.Body)
				}
				if !tt.downloadOK && (d.Code != http.StatusForbidden || !strings.Contains(d.Body, `{"errors":[{"detail":"`) || !strings.Contains(d.Body, "until")) {
					t.Errorf("refusal: %d %s", d.Code, d.Body)
				}
			}
			in.Clock.Advance(7 * 24 * time.Hour)
			if r := get(t, url); tt.crate == "long-crate-name" && (!strings.Contains(r.Body, `"vers":"1.1.0"`) || strings.Contains(r.Body, `"yanked":true`)) {
				t.Errorf("after 7 days the index still holds 1.1.0:\n%s", r.Body)
			}
		})
	}
}

// TestCooldownCargoClient drives the real cargo in both modes: resolution
// takes the version that passed the cooldown and an exact requirement of
// the held version fails (Cargo resolves every requirement, exact ones
// included, from the index file alone, and never selects a yanked line for
// one); `cargo update --precise` locks the held version (a yanked line);
// fetching it then succeeds in hide mode and fails in deny mode with the
// cooldown's message, which cargo prints from the 403's body; once the
// clock passes its age `cargo update` takes it.
func TestCooldownCargoClient(t *testing.T) {
	for _, mode := range []string{firewall.ModeHide, firewall.ModeDeny} {
		t.Run(mode, func(t *testing.T) {
			reg := cooldownRegistry(t, time.Now().UTC())
			in := cooldownStockpile(t, reg, firewall.Cooldown{Mode: mode})
			cg := newCargo(t, in)
			dir := project(t, "consumer", "0.1.0", `long-crate-name = "1"`)
			cg.must(dir, "generate-lockfile")
			if got := locked(t, dir)["long-crate-name"]; got != "1.0.0" {
				t.Fatalf("locked long-crate-name %s, want 1.0.0", got)
			}
			cg.must(dir, "fetch")

			pinned := project(t, "pinned", "0.1.0", `long-crate-name = "=1.1.0"`)
			if out, err := cg.run(pinned, "generate-lockfile"); err == nil {
				t.Fatalf("cargo resolved the held version:\n%s", out)
			}

			precise := project(t, "precise", "0.1.0", `long-crate-name = "1"`)
			cg.must(precise, "generate-lockfile")
			cg.must(precise, "update", "-p", "long-crate-name", "--precise", "1.1.0")
			if got := locked(t, precise)["long-crate-name"]; got != "1.1.0" {
				t.Fatalf("--precise locked %s, want 1.1.0", got)
			}
			out, err := cg.run(precise, "fetch", "--locked")
			if mode == firewall.ModeHide && err != nil {
				t.Fatalf("hide: cargo fetch of the locked held version: %v\n%s", err, out)
			}
			if mode == firewall.ModeDeny && (err == nil || !strings.Contains(out, "403") || !strings.Contains(out, "release-age cooldown until")) {
				t.Fatalf("deny: cargo fetch of the locked held version (err %v):\n%s", err, out)
			}

			in.Clock.Advance(7 * 24 * time.Hour)
			cg.must(dir, "update")
			if got := locked(t, dir)["long-crate-name"]; got != "1.1.0" {
				t.Fatalf("after 7 days locked long-crate-name %s, want 1.1.0", got)
			}
			cg.must(dir, "fetch")
		})
	}
}

// TestMaliciousAdvisorySparseIndex: an OSV advisory (crates.io ecosystem)
// for one version takes its line out of the sparse index and refuses its
// .crate, retained copy included; removing it restores both.
func TestMaliciousAdvisorySparseIndex(t *testing.T) {
	dir := t.TempDir()
	reg := cooldownRegistry(t, time.Now().UTC().Add(-365*24*time.Hour))
	in := stockpile(t, reg, upstream.Options{}, func(cfg *proxy.Config) { cfg.Firewall.OSV.Path = dir })
	index := in.URL + "/acme/cargo/app/" + indexPath("long-crate-name")
	download := in.URL + "/acme/cargo/app/api/v1/crates/long-crate-name/1.1.0/download"
	if r := get(t, download); r.Code != http.StatusOK {
		t.Fatalf("before the advisory: %d %s", r.Code, r.Body)
	}
	withdraw := in.Advise(t, dir, "MAL-2026-2", "crates.io", "long-crate-name", "1.1.0")
	if r := get(t, index); strings.Contains(r.Body, `"vers":"1.1.0"`) || !strings.Contains(r.Body, `"vers":"1.0.0"`) {
		t.Errorf("index with the advisory:\n%s", r.Body)
	}
	if r := get(t, download); r.Code != http.StatusForbidden || !strings.Contains(r.Body, "MAL-2026-2") || !strings.Contains(r.Body, `{"errors":[{"detail":"`) {
		t.Errorf("retained .crate with the advisory: %d %s", r.Code, r.Body)
	}
	withdraw(t)
	if r := get(t, index); !strings.Contains(r.Body, `"vers":"1.1.0"`) {
		t.Errorf("index after removal:\n%s", r.Body)
	}
	if r := get(t, download); r.Code != http.StatusOK {
		t.Errorf("after removal: %d", r.Code)
	}
}
