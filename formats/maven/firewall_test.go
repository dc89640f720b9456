package maven_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/firewall"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
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
	withdraw := e.in.Advise(t, dir, "MAL-2026-5", "Maven", "com.example.cool:lib", "1.1")
	md := e.get(t, app+"com/example/cool/lib/maven-metadata.xml")
	if strings.Contains(string(md.body), ">1.1<") || !strings.Contains(string(md.body), "<release>1.0</release>") {
		t.Errorf("metadata with the advisory:\n%s", md.body)
	}
	r := e.get(t, jar)
	expect(t, "retained jar with the advisory", r, 403)
	if !strings.Contains(string(r.body), "MAL-2026-5") {
		t.Errorf("refusal: %s", r.body)
	}
	withdraw(t)
	expect(t, "after removal", e.get(t, jar), 200)
}

// TestCooldownMvn drives Maven in both modes: a version range resolves the
// version that passed the cooldown; an exact pin of the held one (Maven
// fetches a fixed version's POM and jar directly, without the metadata)
// installs in hide mode and fails in deny mode with the cooldown's message,
// which Maven prints from the 403's reason phrase; after seven days the
// range takes it.
func TestCooldownMvn(t *testing.T) {
	for _, mode := range []string{firewall.ModeHide, firewall.ModeDeny} {
		t.Run(mode, func(t *testing.T) { testCooldownMvn(t, mode) })
	}
}

func testCooldownMvn(t *testing.T, mode string) {
	mvn := proxytest.RequireTool(t, "mvn")
	c := firewall.Cooldown{MinAge: firewall.Duration(7 * 24 * time.Hour), Mode: mode}
	e := startEnv(t, envOptions{auth: true, configure: func(cfg *proxy.Config) {
		cfg.Domains[0].Repositories[0].Cooldown = &c
	}})
	e.central.debian(t)
	e.central.artifact("com.example.cool", "lib", "1.0", jarOf(t, "cool/A.class", "1.0"))
	e.central.artifact("com.example.cool", "lib", "1.1", jarOf(t, "cool/A.class", "1.1"))
	e.central.metadata("com.example.cool", "lib", e.in.Clock.Now().UTC().Add(-24*time.Hour).Format("20060102150405"), "1.0", "1.1")

	work := t.TempDir()
	settings := filepath.Join(work, "settings.xml")
	pom := `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example.app</groupId>
  <artifactId>consumer</artifactId>
  <version>1.0</version>
  <dependencies>
    <dependency><groupId>com.example.cool</groupId><artifactId>lib</artifactId><version>${lib.version}</version></dependency>
  </dependencies>` + pluginManagement + `
</project>
`
	writeFiles(t, work, map[string]string{"settings.xml": settingsXML(e.url("app"), e.token), "consumer/pom.xml": pom})
	run := func(t *testing.T, localRepo string, args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		full := append([]string{"-B", "-ntp", "-C", "-s", settings, "-Dmaven.repo.local=" + localRepo}, args...)
		cmd := exec.CommandContext(ctx, mvn, full...)
		cmd.Dir = filepath.Join(work, "consumer")
		cmd.Env = append(os.Environ(), "MAVEN_OPTS=-Xshare:auto -XX:TieredStopAtLevel=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	has := func(repo, version string) bool {
		_, err := os.Stat(filepath.Join(repo, "com/example/cool/lib", version, "lib-"+version+".jar"))
		return err == nil
	}
	t.Run("a range resolves the version that passed", func(t *testing.T) {
		repo := t.TempDir()
		if out, err := run(t, repo, "-Dlib.version=[1.0,2.0)", "package"); err != nil {
			t.Fatalf("mvn: %v\n%s", err, tail(out))
		}
		if !has(repo, "1.0") || has(repo, "1.1") {
			t.Fatalf("resolved: 1.0 %v, 1.1 %v", has(repo, "1.0"), has(repo, "1.1"))
		}
	})
	t.Run("an exact pin of the held version", func(t *testing.T) {
		repo := t.TempDir()
		out, err := run(t, repo, "-Dlib.version=1.1", "package")
		if mode == firewall.ModeHide {
			if err != nil || !has(repo, "1.1") {
				t.Fatalf("hide: mvn with the held version pinned (err %v):\n%s", err, tail(out))
			}
			return
		}
		if err == nil || !strings.Contains(out, "403") || !strings.Contains(out, "release-age cooldown until") {
			t.Fatalf("deny: mvn with the held version pinned (err %v):\n%s", err, tail(out))
		}
	})
	t.Run("after seven days the range takes it", func(t *testing.T) {
		e.in.Clock.Advance(7 * 24 * time.Hour)
		repo := t.TempDir()
		if out, err := run(t, repo, "-Dlib.version=[1.0,2.0)", "package"); err != nil {
			t.Fatalf("mvn: %v\n%s", err, tail(out))
		}
		if !has(repo, "1.1") {
			t.Fatal("1.1 was not resolved")
		}
	})
}

// TestCooldownMavenPublishTimes: Maven's metadata dates only its newest
// version (lastUpdated). With the connection's publish_times:
// last_modified each version is dated by its POM's Last-Modified, so the
// cooldown holds the version that is new even when it is not the newest
// (a patch of an older line), and lastUpdated names the newest time left
// when the newest version is held.
func TestCooldownMavenPublishTimes(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name         string
		publishTimes string
		ages         map[string]time.Duration // version → age of its POM
		want         []string                 // versions in the metadata
		lastUpdated  time.Duration            // age of the lastUpdated served; 0: none
	}{
		// lastUpdated is 1.1's deployment, taken for 2.0's: the wrong
		// version is held.
		{"metadata: only the newest is dated", "", map[string]time.Duration{"1.0": 60 * day, "1.1": 2 * day, "2.0": 40 * day},
			[]string{"1.0", "1.1"}, 0},
		{"last_modified: a new patch of an old line is held", "last_modified", map[string]time.Duration{"1.0": 60 * day, "1.1": 2 * day, "2.0": 40 * day},
			[]string{"1.0", "2.0"}, 40 * day},
		{"last_modified: the newest held, lastUpdated moves back", "last_modified", map[string]time.Duration{"1.0": 60 * day, "1.1": 30 * day, "2.0": 1 * day},
			[]string{"1.0", "1.1"}, 30 * day},
		{"metadata: the newest held, lastUpdated left out", "", map[string]time.Duration{"1.0": 60 * day, "1.1": 30 * day, "2.0": 1 * day},
			[]string{"1.0", "1.1"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := firewall.Cooldown{MinAge: firewall.Duration(7 * day)}
			e := startEnv(t, envOptions{configure: func(cfg *proxy.Config) {
				cfg.Domains[0].Repositories[0].Cooldown = &c
				o := cfg.Connections["public:maven-central"]
				o.PublishTimes = tt.publishTimes
				cfg.Connections["public:maven-central"] = o
			}})
			now := e.in.Clock.Now().UTC()
			newest := time.Time{}
			var versions []string
			for v, age := range tt.ages {
				at := now.Add(-age)
				e.central.Fake.Handle(e.central.path("com/example/cool/lib/"+v+"/lib-"+v+".pom"), upstreamtest.Response{
					Body: formattest.MavenPOM("com.example.cool", "lib", v), Header: http.Header{"Last-Modified": {at.Format(http.TimeFormat)}}})
				if at.After(newest) {
					newest = at
				}
				versions = append(versions, v)
			}
			sort.Strings(versions)
			e.central.metadata("com.example.cool", "lib", newest.Format("20060102150405"), versions...)
			r := e.get(t, e.url("app")+"com/example/cool/lib/maven-metadata.xml")
			expect(t, "metadata", r, 200)
			body := string(r.body)
			for _, v := range versions {
				if got := strings.Contains(body, "<version>"+v+"</version>"); got != slices.Contains(tt.want, v) {
					t.Errorf("version %s listed %v, want %v:\n%s", v, got, !got, body)
				}
			}
			wantLU := ""
			if tt.lastUpdated > 0 {
				wantLU = "<lastUpdated>" + now.Add(-tt.lastUpdated).Format("20060102150405") + "</lastUpdated>"
			}
			if gotLU := lastUpdatedRE.FindString(body); gotLU != wantLU {
				t.Errorf("lastUpdated %q, want %q", gotLU, wantLU)
			}
		})
	}
}

var lastUpdatedRE = regexp.MustCompile(`<lastUpdated>\d+</lastUpdated>`)
