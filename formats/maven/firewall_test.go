package maven_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/firewall"
)

// cooldownEnv serves com.example.cool:lib 1.0 and 1.1 from central, whose
// metadata was last updated (1.1 deployed) one day before now: Maven's
// metadata dates only its newest version.
func cooldownEnv(t *testing.T, c firewall.Cooldown) *env {
	t.Helper()
	c.MinAge = firewall.Duration(7 * 24 * time.Hour)
	e := startEnv(t, envOptions{configure: func(cfg *proxy.Config) {
		cfg.Domains[0].Repositories[0].Cooldown = &c
	}})
	e.central.artifact("com.example.cool", "lib", "1.0", jarOf(t, "cool/A.class", "1.0"))
	e.central.artifact("com.example.cool", "lib", "1.1", jarOf(t, "cool/A.class", "1.1"))
	e.central.metadata("com.example.cool", "lib", e.in.Clock.Now().UTC().Add(-24*time.Hour).Format("20060102150405"), "1.0", "1.1")
	return e
}

// TestCooldownMavenMetadata: the newest version, deployed a day ago, leaves
// maven-metadata.xml (versions, latest and release move to 1.0) and its
// checksums agree; deny refuses its jar with 403 naming the version and
// when it is available, hide serves it; after seven days it is back.
func TestCooldownMavenMetadata(t *testing.T) {
	tests := []struct {
		name    string
		mode    string
		jarCode int
	}{
		{"deny", firewall.ModeDeny, 403},
		{"hide", firewall.ModeHide, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cooldownEnv(t, firewall.Cooldown{Mode: tt.mode})
			app := e.url("app")
			md := app + "com/example/cool/lib/maven-metadata.xml"
			r := e.get(t, md)
			expect(t, "metadata", r, 200)
			body := string(r.body)
			for _, want := range []string{"<latest>1.0</latest>", "<release>1.0</release>", "<version>1.0</version>"} {
				if !strings.Contains(body, want) {
					t.Errorf("metadata lacks %s:\n%s", want, body)
				}
			}
			if strings.Contains(body, ">1.1<") {
				t.Errorf("metadata names the held 1.1:\n%s", body)
			}
			if sum := e.get(t, md+".sha1"); string(sum.body) != hexSum(r.body, "sha1") {
				t.Errorf("maven-metadata.xml.sha1 %q does not match the document served", sum.body)
			}
			jar := e.get(t, app+"com/example/cool/lib/1.1/lib-1.1.jar")
			expect(t, "held jar", jar, tt.jarCode)
			if tt.jarCode == 403 && (!strings.Contains(string(jar.body), "1.1") || !strings.Contains(string(jar.body), "until")) {
				t.Errorf("refusal does not say why: %s", jar.body)
			}
			expect(t, "aged jar", e.get(t, app+"com/example/cool/lib/1.0/lib-1.0.jar"), 200)
			if team := e.get(t, e.url("team")+"com/example/cool/lib/maven-metadata.xml"); !strings.Contains(string(team.body), "<release>1.1</release>") {
				t.Errorf("team (no cooldown):\n%s", team.body)
			}
			e.in.Clock.Advance(7 * 24 * time.Hour)
			if r := e.get(t, md); !strings.Contains(string(r.body), "<release>1.1</release>") {
				t.Errorf("after 7 days:\n%s", r.body)
			}
		})
	}
}

// TestMaliciousAdvisoryMavenMetadata: an OSV advisory (Maven ecosystem,
// group:artifact) for one version takes it out of maven-metadata.xml and
// refuses its jar, retained copy included; removing it restores both.
func TestMaliciousAdvisoryMavenMetadata(t *testing.T) {
	dir := t.TempDir()
	e := startEnv(t, envOptions{configure: func(cfg *proxy.Config) { cfg.Firewall.OSV.Path = dir }})
	e.central.artifact("com.example.cool", "lib", "1.0", jarOf(t, "cool/A.class", "1.0"))
	e.central.artifact("com.example.cool", "lib", "1.1", jarOf(t, "cool/A.class", "1.1"))
	app := e.url("app")
	jar := app + "com/example/cool/lib/1.1/lib-1.1.jar"
	expect(t, "before the advisory", e.get(t, jar), 200)
	advisory := filepath.Join(dir, "MAL-2026-5.json")
	if err := os.WriteFile(advisory, []byte(`{"id":"MAL-2026-5","affected":[{"package":{"ecosystem":"Maven","name":"com.example.cool:lib"},"versions":["1.1"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.in.Server.ReloadAdvisories(); err != nil {
		t.Fatal(err)
	}
	md := e.get(t, app+"com/example/cool/lib/maven-metadata.xml")
	if strings.Contains(string(md.body), ">1.1<") || !strings.Contains(string(md.body), "<release>1.0</release>") {
		t.Errorf("metadata with the advisory:\n%s", md.body)
	}
	r := e.get(t, jar)
	expect(t, "retained jar with the advisory", r, 403)
	if !strings.Contains(string(r.body), "MAL-2026-5") {
		t.Errorf("refusal: %s", r.body)
	}
	if err := os.Remove(advisory); err != nil {
		t.Fatal(err)
	}
	if err := e.in.Server.ReloadAdvisories(); err != nil {
		t.Fatal(err)
	}
	expect(t, "after removal", e.get(t, jar), 200)
}
