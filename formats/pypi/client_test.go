package pypi

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// Real-client tests: pip (with the interpreter that built the fixtures) and
// twine against a Stockpile whose external connection is the fake PyPI. They
// skip when the clients are missing, except under STOCKPILE_E2E=require.

// clients runs pip and twine in an isolated home. pip is the newest one
// found (pip 23.2 is the first to read PEP 714's core-metadata in JSON);
// sdists are built by the interpreter that has setuptools and wheel.
type clients struct {
	t                  *testing.T
	e                  *env
	installer, builder *python
	home               string
}

func newClients(t *testing.T, e *env) *clients {
	t.Helper()
	if e.fx.Builder == nil || e.fx.Installer == nil {
		if os.Getenv("STOCKPILE_E2E") == "require" {
			t.Fatal("python3 with pip, setuptools and wheel is required (STOCKPILE_E2E=require)")
		}
		t.Skip("no python3 with pip, setuptools and wheel")
	}
	t.Logf("pip %d.%d (%s); sdists built with %s", e.fx.Installer.Pip[0], e.fx.Installer.Pip[1], e.fx.Installer.Path, e.fx.Builder.Path)
	return &clients{t: t, e: e, installer: e.fx.Installer, builder: e.fx.Builder, home: t.TempDir()}
}

// readsCoreMetadata reports whether the installer's pip reads PEP 714's
// core-metadata key of JSON pages.
func (c *clients) readsCoreMetadata() bool {
	v := c.installer.Pip
	return v[0] > 23 || v[0] == 23 && v[1] >= 2
}

// index is the repository's simple index URL with the token as Basic
// credentials, as `aws codeartifact login --tool pip` writes it.
func (c *clients) index(repo string) string {
	u, err := url.Parse(c.e.repo(repo) + "/simple/")
	if err != nil {
		c.t.Fatal(err)
	}
	u.User = url.UserPassword("aws", c.e.token)
	return u.String()
}

func (c *clients) run(name string, args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.home
	cmd.Env = append(pythonEnv(c.home), "TWINE_NON_INTERACTIVE=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pip runs the installer's pip with a fresh cache against the repository's
// index.
func (c *clients) pip(repo string, args ...string) string {
	c.t.Helper()
	return c.pipWith(c.installer, repo, args...)
}

func (c *clients) pipWith(py *python, repo string, args ...string) string {
	c.t.Helper()
	full := append([]string{"-m", "pip"}, args[0])
	full = append(full, "--index-url", c.index(repo), "--cache-dir", c.t.TempDir(), "--no-input", "--progress-bar", "off", "--no-color")
	full = append(full, args[1:]...)
	out, err := c.run(py.Path, full...)
	if err != nil {
		c.t.Fatalf("pip %s: %v\n%s", strings.Join(args, " "), err, strings.ReplaceAll(out, c.e.token, "TOKEN"))
	}
	return out
}

// installed reads the modules pip put in a --target directory.
func installed(t *testing.T, dir string, modules ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range modules {
		b, err := os.ReadFile(filepath.Join(dir, m+".py"))
		if err != nil {
			out[m] = "missing"
			continue
		}
		out[m] = strings.TrimSpace(string(b))
	}
	return out
}

func TestRealClients(t *testing.T) {
	runRealClients(t, startEnv(t, envOptions{ttl: time.Millisecond}))
}

// TestRealClientsReplicas runs the pip and twine scenario through a load
// balancer over three replicas on PostgreSQL and SeaweedFS.
func TestRealClientsReplicas(t *testing.T) {
	runRealClients(t, startEnv(t, envOptions{ttl: time.Millisecond, replicas: 3}))
}

// checkDemoInstalled checks that pip installed the upstream's demo 1.0.0
// and dep-b 1.1.0 in target: 1.1.0 is yanked, 1.2.0 needs Python 3.99,
// 2.0.0rc1 is a pre-release. when says in a failure what was different.
func checkDemoInstalled(t *testing.T, fx *fixtureSet, target, when string) {
	t.Helper()
	got := installed(t, target, "stock_pile_demo", "dep_b")
	want := map[string]string{
		"stock_pile_demo": moduleSourceTrim(fx.get(t, setUpstream, demo, "1.0.0", true).Spec),
		"dep_b":           moduleSourceTrim(fx.get(t, setUpstream, "dep-b", "1.1.0", true).Spec),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("installed%s (-want +got):\n%s", when, diff)
	}
}

func runRealClients(t *testing.T, e *env) {
	c := newClients(t, e)
	fx := e.fx

	t.Run("pip install through app, team and pypi-store", func(t *testing.T) {
		target := t.TempDir()
		// The display name: pip normalizes it, Stockpile must agree.
		c.pip("app", "install", "--target", target, "Stock_Pile.Demo")
		checkDemoInstalled(t, fx, target, "")
		// pip read the core metadata Stockpile proxied (PEP 658/714).
		for _, w := range []*dist{fx.get(t, setUpstream, demo, "1.0.0", true), fx.get(t, setUpstream, "dep-b", "1.1.0", true)} {
			n := e.up.Files.Hits(filePath(w) + ".metadata")
			switch {
			case c.readsCoreMetadata() && n == 0:
				t.Fatalf("pip %d.%d did not use the core metadata of %s", c.installer.Pip[0], c.installer.Pip[1], w.Filename)
			case !c.readsCoreMetadata() && os.Getenv("STOCKPILE_E2E") == "require":
				t.Fatalf("pip %d.%d predates PEP 714 (JSON core-metadata): CI needs pip >= 23.2 to check core metadata", c.installer.Pip[0], c.installer.Pip[1])
			case !c.readsCoreMetadata():
				t.Logf("pip %d.%d predates PEP 714: core metadata not used", c.installer.Pip[0], c.installer.Pip[1])
			}
		}
		held := map[string]bool{}
		for _, repo := range []string{"app", "internal", "team", "pypi-store"} {
			held[repo] = e.held(repo, demo, "1.0.0") != nil && e.held(repo, "dep-b", "1.1.0") != nil
		}
		if diff := cmp.Diff(map[string]bool{"app": true, "internal": false, "team": false, "pypi-store": true}, held); diff != "" {
			t.Fatalf("retention (-want +got):\n%s", diff)
		}
	})

	t.Run("pip install of an sdist, built without isolation", func(t *testing.T) {
		target := t.TempDir()
		c.pipWith(c.builder, "app", "install", "--target", target, "--no-deps", "--no-build-isolation", "dep-b==1.0.0")
		got := installed(t, target, "dep_b")
		want := map[string]string{"dep_b": moduleSourceTrim(fx.get(t, setUpstream, "dep-b", "1.0.0", false).Spec)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("installed (-want +got):\n%s", diff)
		}
	})

	t.Run("pip download of a yanked version by exact pin", func(t *testing.T) {
		dir := t.TempDir()
		out := c.pip("app", "download", "--no-deps", "-d", dir, "stock-pile-demo==1.1.0")
		y := fx.get(t, setUpstream, demo, "1.1.0", true)
		b, err := os.ReadFile(filepath.Join(dir, y.Filename))
		if err != nil || !bytes.Equal(b, y.Body) {
			t.Fatalf("downloaded %s: %v\n%s", y.Filename, err, out)
		}
		if !strings.Contains(out, "broken build") {
			t.Fatalf("pip did not report the yank reason:\n%s", out)
		}
	})

	t.Run("pip download of the pre-release with --pre", func(t *testing.T) {
		dir := t.TempDir()
		out := c.pip("app", "download", "--no-deps", "--pre", "-d", dir, "stock-pile-demo")
		rc := fx.get(t, setUpstream, demo, "2.0.0rc1", true)
		if b, err := os.ReadFile(filepath.Join(dir, rc.Filename)); err != nil || !bytes.Equal(b, rc.Body) {
			t.Fatalf("downloaded %s: %v\n%s", rc.Filename, err, out)
		}
	})

	t.Run("twine upload to internal, pip install gets the internal version", func(t *testing.T) {
		twine := proxytest.RequireTool(t, "twine")
		dir := t.TempDir()
		var files []string
		for _, d := range []*dist{fx.get(t, setInternal, "acme-secret", "0.1.0", true), fx.get(t, setInternal, "acme-secret", "0.1.0", false)} {
			p := filepath.Join(dir, d.Filename)
			os.WriteFile(p, d.Body, 0o644)
			files = append(files, p)
		}
		upload := func(args ...string) (string, error) {
			full := append([]string{"upload", "--non-interactive", "--disable-progress-bar",
				"--repository-url", e.repo("internal") + "/", "-u", "aws", "-p", e.token}, args...)
			out, err := c.run(twine, full...)
			return strings.ReplaceAll(out, e.token, "TOKEN"), err
		}
		if out, err := upload(files...); err != nil {
			t.Fatalf("twine upload: %v\n%s", err, out)
		}
		// The same files again, then other bytes under the wheel's name:
		// --skip-existing passes over both.
		altDir := t.TempDir()
		alt := fx.get(t, setAlt, "acme-secret", "0.1.0", true)
		os.WriteFile(filepath.Join(altDir, alt.Filename), alt.Body, 0o644)
		if out, err := upload(append([]string{"--skip-existing"}, files...)...); err != nil {
			t.Fatalf("twine upload --skip-existing of the same files: %v\n%s", err, out)
		}
		out, err := upload("--skip-existing", filepath.Join(altDir, alt.Filename))
		if err != nil || !strings.Contains(out, "Skipping") {
			t.Fatalf("twine upload --skip-existing of other bytes: %v\n%s", err, out)
		}
		if out, err := upload(filepath.Join(altDir, alt.Filename)); err == nil || !strings.Contains(out, "409") {
			t.Fatalf("twine upload of other bytes: %v\n%s", err, out)
		}

		target := t.TempDir()
		c.pip("app", "install", "--target", target, "acme-secret")
		got := installed(t, target, "acme_secret")
		want := map[string]string{"acme_secret": moduleSourceTrim(fx.get(t, setInternal, "acme-secret", "0.1.0", true).Spec)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("installed (-want +got):\n%s", diff)
		}
		if n := e.up.Files.Hits(filePath(fx.get(t, setUpstream, "acme-secret", "99.0.0", true))); n != 0 {
			t.Fatalf("the public acme-secret 99.0.0 was fetched %d times", n)
		}
	})

	t.Run("upstream stopped, fresh pip install from Stockpile", func(t *testing.T) {
		e.up.Index.Close()
		e.up.Files.Close()
		if !e.replicas { // replicas keep running: what they stored must do
			e.in.Restart()
		}
		target := t.TempDir()
		c.pip("app", "install", "--target", target, "stock-pile-demo")
		checkDemoInstalled(t, fx, target, " offline")
	})
}

func moduleSourceTrim(s spec) string { return strings.TrimSpace(moduleSource(s)) }
