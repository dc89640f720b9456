package pypi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// Package lifecycle seen by the real pip: the AWS CLI changes version
// statuses, disposes and copies versions that twine uploaded, and pip shows
// what each change lets it install.

const (
	lifecycleKeyID  = "AKIDPYPILIFECYCLE"
	lifecycleSecret = "pypi-lifecycle-secret"
	lifecycleName   = "Life_Cycle.Pkg" // as written in METADATA
	lifecycleNorm   = "life-cycle-pkg" // PEP 503
	lifecycleModule = "life_cycle_pkg"
)

// startLifecycleEnv is startEnv with the test's access key, an immediate
// blob collector and a repository dest that reaches nothing.
func startLifecycleEnv(t *testing.T) *env {
	t.Helper()
	return startEnv(t, envOptions{edit: proxytest.LifecycleConfig(lifecycleKeyID, lifecycleSecret)})
}

// lifecycleWheel is a pure-Python wheel of Life_Cycle.Pkg at version v,
// with a RECORD pip can check.
func lifecycleWheel(t *testing.T, v string) (name string, body []byte) {
	t.Helper()
	distInfo := lifecycleModule + "-" + v + ".dist-info"
	return lifecycleModule + "-" + v + "-py3-none-any.whl", formattest.Wheel(distInfo,
		formattest.Text(lifecycleModule+".py", fmt.Sprintf("VERSION = %q\n", v)),
		formattest.Text(distInfo+"/METADATA", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: lifecycle fixture\n", lifecycleName, v)),
		formattest.Text(distInfo+"/WHEEL", "Wheel-Version: 1.0\nGenerator: stockpile-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
	)
}

func TestPipLifecycleWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	e := startLifecycleEnv(t)
	c := newClients(t, e)
	a := proxytest.NewAWSCLI(t, e.in, lifecycleKeyID, lifecycleSecret)
	twine := proxytest.RequireTool(t, "twine")

	// twine uploads four versions to internal.
	wheels := map[string][]byte{}
	names := map[string]string{}
	dir := t.TempDir()
	var paths []string
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"} {
		names[v], wheels[v] = lifecycleWheel(t, v)
		p := filepath.Join(dir, names[v])
		if err := os.WriteFile(p, wheels[v], 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, err := c.run(twine, append([]string{"upload", "--non-interactive", "--disable-progress-bar",
		"--repository-url", e.repo("internal") + "/", "-u", "aws", "-p", e.token}, paths...)...)
	if err != nil {
		t.Fatalf("twine upload: %v\n%s", err, strings.ReplaceAll(out, e.token, "TOKEN"))
	}

	// The control plane names the project in its PEP 503 form.
	lp := proxytest.CLIPackage{Domain: "acme", Format: "pypi", Package: lifecycleNorm}
	pkgArgs := lp.Args
	status := func(t *testing.T, v, target string) { a.SetStatus(t, lp, "internal", v, target) }
	assets := a.OK(append([]string{"list-package-version-assets"}, pkgArgs("internal", "--package-version", "1.0.0")...)...)
	sum, _ := proxytest.Pick(assets, "assets", 0, "hashes", "SHA-256").(string)
	if want := sha256.Sum256(wheels["1.0.0"]); sum != hex.EncodeToString(want[:]) || len(proxytest.Pick(assets, "assets").([]any)) != 1 {
		t.Fatalf("list-package-version-assets: %v", assets)
	}

	// install runs pip install --target into a fresh directory with a
	// fresh cache and returns the installed version ("" when pip failed)
	// and pip's output.
	install := func(t *testing.T, repo, req string) (string, string) {
		t.Helper()
		target := t.TempDir()
		out, err := c.run(c.installer.Path, "-m", "pip", "install", "--index-url", c.index(repo), "--cache-dir", t.TempDir(),
			"--no-input", "--progress-bar", "off", "--no-color", "--retries", "0", "--target", target, req)
		out = strings.ReplaceAll(out, e.token, "TOKEN")
		if err != nil {
			return "", out
		}
		src := installed(t, target, lifecycleModule)[lifecycleModule]
		got, ok := strings.CutPrefix(src, "VERSION = ")
		if !ok {
			t.Fatalf("pip install %s: installed module %q\n%s", req, src, out)
		}
		return strings.Trim(got, `"`), out
	}
	mustInstall := func(t *testing.T, repo, req, want string) string {
		t.Helper()
		got, out := install(t, repo, req)
		if got != want {
			t.Fatalf("pip install %s from %s: installed %q, want %s\n%s", req, repo, got, want, out)
		}
		return out
	}
	mustNotInstall := func(t *testing.T, repo, req string) {
		t.Helper()
		got, out := install(t, repo, req)
		if got != "" || !strings.Contains(out, "No matching distribution found") {
			t.Fatalf("pip install %s from %s: installed %q, want no matching distribution\n%s", req, repo, got, out)
		}
	}
	// The display name: pip normalizes it, as does Stockpile.
	mustInstall(t, "internal", lifecycleName, "1.3.0")

	t.Run("copy", func(t *testing.T) {
		r := a.OK("copy-package-versions", "--domain", "acme", "--source-repository", "internal", "--destination-repository", "dest",
			"--format", "pypi", "--package", lifecycleNorm, "--versions", "1.1.0")
		if proxytest.Pick(r, "successfulVersions", "1.1.0", "status") != "Published" {
			t.Fatalf("copy-package-versions: %v", r)
		}
		mustInstall(t, "dest", lifecycleNorm, "1.1.0")
		mustInstall(t, "dest", lifecycleNorm+"==1.1.0", "1.1.0")
		mustNotInstall(t, "dest", lifecycleNorm+"==1.3.0")
	})

	t.Run("unlisted", func(t *testing.T) {
		status(t, "1.3.0", "Unlisted")
		// Unlisted is yanked to pip (PEP 592): a new resolve passes over it,
		mustInstall(t, "internal", lifecycleNorm, "1.2.0")
		mustInstall(t, "internal", lifecycleNorm+">=1.1", "1.2.0")
		// an exact pin still installs it, with pip's yank warning.
		out := mustInstall(t, "internal", lifecycleNorm+"==1.3.0", "1.3.0")
		if !strings.Contains(out, "yanked") {
			t.Fatalf("pip did not warn about the yanked 1.3.0:\n%s", out)
		}
	})

	t.Run("archived", func(t *testing.T) {
		status(t, "1.2.0", "Archived")
		mustInstall(t, "internal", lifecycleNorm, "1.1.0")
		mustNotInstall(t, "internal", lifecycleNorm+"==1.2.0")
		f := &dist{Project: lifecycleNorm, Version: "1.2.0", Filename: names["1.2.0"]}
		if r := e.get(e.fileURL("internal", f), nil); r.Status != 404 {
			t.Fatalf("download of the Archived 1.2.0: %d", r.Status)
		}
	})

	t.Run("disposed", func(t *testing.T) {
		r := a.OK(append([]string{"dispose-package-versions"}, pkgArgs("internal", "--versions", "1.0.0")...)...)
		if proxytest.Pick(r, "successfulVersions", "1.0.0", "status") != "Disposed" {
			t.Fatalf("dispose-package-versions: %v", r)
		}
		mustNotInstall(t, "internal", lifecycleNorm+"==1.0.0")
		mustNotInstall(t, "internal", lifecycleNorm+"<1.1")
		f := &dist{Project: lifecycleNorm, Version: "1.0.0", Filename: names["1.0.0"]}
		if r := e.get(e.fileURL("internal", f), nil); r.Status != 404 {
			t.Fatalf("download of the Disposed 1.0.0: %d", r.Status)
		}
		e.in.WaitReclaimed(t, "acme", sum)
	})
}
