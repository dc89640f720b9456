package rubygems

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// Package lifecycle seen by the real gem and Bundler: the AWS CLI changes
// version statuses, disposes and copies versions that gem push published,
// and gem and bundle show what each change lets them install.

const (
	lifecycleKeyID  = "AKIDRUBYLIFECYCLE"
	lifecycleSecret = "ruby-lifecycle-secret"
	lifecycleGem    = "life-gem"
)

// startLifecycleEnv is startEnv with the test's access key, an immediate
// blob collector and a repository dest that reaches nothing.
func startLifecycleEnv(t *testing.T) *env {
	t.Helper()
	return startEnv(t, envOptions{auth: true, configure: proxytest.LifecycleConfig(lifecycleKeyID, lifecycleSecret)})
}

// buildLifecycleGems builds life-gem at each version with gem build and
// returns the .gem paths by version.
func buildLifecycleGems(t *testing.T, versions ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for _, v := range versions {
		src := filepath.Join(dir, "src-"+v)
		if err := os.MkdirAll(filepath.Join(src, "lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(src, "lib", lifecycleGem+".rb"), []byte(fmt.Sprintf("module LifeGem; VERSION = %q; end\n", v)), 0o644)
		os.WriteFile(filepath.Join(src, "fixture.gemspec"), []byte(gemspecSource(fixtureGem{name: lifecycleGem, version: v})), 0o644)
		cmd := exec.Command("gem", "build", "fixture.gemspec", "--output", "out.gem")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "HOME="+src, "SOURCE_DATE_EPOCH=1704067200")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gem build %s: %v\n%s", v, err, out)
		}
		paths[v] = filepath.Join(dir, lifecycleGem+"-"+v+".gem")
		if err := os.Rename(filepath.Join(src, "out.gem"), paths[v]); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

func TestGemLifecycleWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	e := startLifecycleEnv(t)
	a := proxytest.NewAWSCLI(t, e.in, lifecycleKeyID, lifecycleSecret)
	versions := []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"}
	paths := buildLifecycleGems(t, versions...)
	bodies := map[string][]byte{}
	pusher := newRubyClient(t, e)
	host := strings.TrimSuffix(e.url("internal"), "/")
	for _, v := range versions {
		b, err := os.ReadFile(paths[v])
		if err != nil {
			t.Fatal(err)
		}
		bodies[v] = b
		out, err := pusher.try(t, "env", "GEM_HOST_API_KEY=Bearer "+e.token, "gem", "push", paths[v], "--host", host)
		if err != nil || !strings.Contains(out, "Successfully registered gem: life-gem ("+v+")") {
			t.Fatalf("gem push %s: %v\n%s", v, err, out)
		}
	}

	lp := proxytest.CLIPackage{Domain: "acme", Format: "ruby", Package: lifecycleGem}
	pkgArgs := lp.Args
	status := func(t *testing.T, v, target string) { a.SetStatus(t, lp, "internal", v, target) }
	// 1.0.0's assets: the .gem and the quick gemspec Stockpile derived
	// from it.
	assets := a.OK(append([]string{"list-package-version-assets"}, pkgArgs("internal", "--package-version", "1.0.0")...)...)
	sums := map[string]string{}
	for _, as := range proxytest.Pick(assets, "assets").([]any) {
		name, _ := proxytest.Pick(as, "name").(string)
		sums[name], _ = proxytest.Pick(as, "hashes", "SHA-256").(string)
	}
	if want := sha256.Sum256(bodies["1.0.0"]); sums["life-gem-1.0.0.gem"] != hex.EncodeToString(want[:]) {
		t.Fatalf("list-package-version-assets: %v", assets)
	}

	// gemInstall runs gem install in a fresh GEM_HOME against repository
	// repo only.
	gemInstall := func(t *testing.T, repo string, args ...string) (string, error) {
		t.Helper()
		c := newRubyClient(t, e)
		full := append([]string{"install", lifecycleGem}, args...)
		out, err := c.try(t, "gem", append(full, "--clear-sources", "--source", e.withCredentials(repo), "--no-document")...)
		return strings.ReplaceAll(out, e.token, "TOKEN"), err
	}
	mustGemInstall := func(t *testing.T, repo, want string, args ...string) {
		t.Helper()
		out, err := gemInstall(t, repo, args...)
		if err != nil || !strings.Contains(out, "Successfully installed life-gem-"+want+"\n") {
			t.Fatalf("gem install life-gem %v from %s: want %s: %v\n%s", args, repo, want, err, out)
		}
	}
	mustNotGemInstall := func(t *testing.T, repo string, args ...string) {
		t.Helper()
		out, err := gemInstall(t, repo, args...)
		if err == nil || strings.Contains(out, "Successfully installed") || !strings.Contains(out, "Could not find a valid gem 'life-gem'") {
			t.Fatalf("gem install life-gem %v from %s succeeded:\n%s", args, repo, out)
		}
	}
	// bundleLock resolves a fresh Gemfile (no lock, empty caches) through
	// repository repo and returns the locked version.
	bundleLock := func(t *testing.T, repo, req string) string {
		t.Helper()
		c := newRubyClient(t, e)
		g := `"` + lifecycleGem + `"`
		if req != "" {
			g += `, "` + req + `"`
		}
		c.gemfile(t, gemfileFor(e.url(repo), g))
		out := c.run(t, "bundle", "install")
		mustContain(t, "bundle install", out, "Bundle complete!")
		lock := c.lockfile(t)
		for _, v := range versions {
			if strings.Contains(lock, "    "+lifecycleGem+" ("+v+")\n") {
				return v
			}
		}
		t.Fatalf("no life-gem locked:\n%s", lock)
		return ""
	}
	download := func(t *testing.T, repo, v string) response {
		t.Helper()
		return e.get(t, e.url(repo)+"gems/"+lifecycleGem+"-"+v+".gem")
	}
	mustGemInstall(t, "internal", "1.3.0")

	t.Run("copy", func(t *testing.T) {
		r := a.OK("copy-package-versions", "--domain", "acme", "--source-repository", "internal", "--destination-repository", "dest",
			"--format", "ruby", "--package", lifecycleGem, "--versions", "1.1.0")
		if proxytest.Pick(r, "successfulVersions", "1.1.0", "status") != "Published" {
			t.Fatalf("copy-package-versions: %v", r)
		}
		mustGemInstall(t, "dest", "1.1.0")
		if got := bundleLock(t, "dest", ""); got != "1.1.0" {
			t.Fatalf("bundle install through dest locked %s", got)
		}
		mustNotGemInstall(t, "dest", "-v", "1.3.0")
	})

	t.Run("unlisted", func(t *testing.T) {
		status(t, "1.3.0", "Unlisted")
		// A fresh resolve passes over it, with gem and with Bundler,
		mustGemInstall(t, "internal", "1.2.0")
		if got := bundleLock(t, "internal", ">= 1.1"); got != "1.2.0" {
			t.Fatalf("bundle install with 1.3.0 Unlisted locked %s", got)
		}
		// but its .gem still downloads.
		if r := download(t, "internal", "1.3.0"); r.status != 200 || string(r.body) != string(bodies["1.3.0"]) {
			t.Fatalf("download of the Unlisted 1.3.0: %d", r.status)
		}
	})

	t.Run("archived", func(t *testing.T) {
		status(t, "1.2.0", "Archived")
		mustGemInstall(t, "internal", "1.1.0")
		mustNotGemInstall(t, "internal", "-v", "1.2.0")
		if r := download(t, "internal", "1.2.0"); r.status != 404 {
			t.Fatalf("download of the Archived 1.2.0: %d", r.status)
		}
	})

	t.Run("disposed", func(t *testing.T) {
		r := a.OK(append([]string{"dispose-package-versions"}, pkgArgs("internal", "--versions", "1.0.0")...)...)
		if proxytest.Pick(r, "successfulVersions", "1.0.0", "status") != "Disposed" {
			t.Fatalf("dispose-package-versions: %v", r)
		}
		mustNotGemInstall(t, "internal", "-v", "1.0.0")
		if r := download(t, "internal", "1.0.0"); r.status != 404 {
			t.Fatalf("download of the Disposed 1.0.0: %d", r.status)
		}
		e.in.WaitReclaimed(t, "acme", slices.Collect(maps.Values(sums))...)
	})
}
