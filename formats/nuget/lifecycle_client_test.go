package nuget_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// Package lifecycle seen by NuGet.exe and the feed it reads: the AWS CLI
// changes version statuses, disposes and copies versions that nuget push
// published. NuGet.exe 5.8's install without -Version takes the highest
// version, listed or not (NuGet/Home#3872), so what Unlisted hides is read
// from the registration and the flat container; exact-version installs
// show what stays installable.

const (
	lifecycleKeyID  = "AKIDNUGETLIFECYCLE"
	lifecycleSecret = "nuget-lifecycle-secret"
	lifecycleID     = "Contoso.Life"
	lifecycleLower  = "contoso.life" // the control plane's name
)

// startLifecycle is start with the test's access key, an immediate blob
// collector and a repository dest that reaches nothing.
func startLifecycle(t *testing.T, feed *fakeFeed) *stockpile {
	t.Helper()
	return start(t, feed, startOptions{edit: proxytest.LifecycleConfig(lifecycleKeyID, lifecycleSecret)})
}

func TestNuGetExeLifecycleWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	requireNuGetExe(t)
	s := startLifecycle(t, standardFeed(t))
	a := proxytest.NewAWSCLI(t, s.in, lifecycleKeyID, lifecycleSecret)
	versions := []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"}
	pkgs := map[string]*built{}
	pusher := newNuGetExe(t, s, "internal")
	for _, v := range versions {
		pkgs[v] = pack(t, spec{id: lifecycleID, version: v, content: "life " + v + "\n"}, v)
		p := filepath.Join(pusher.home, lifecycleID+"."+v+".nupkg")
		if err := os.WriteFile(p, pkgs[v].data, 0o644); err != nil {
			t.Fatal(err)
		}
		pusher.mustRun("push", p, "-Source", "internal", "-ApiKey", s.token)
	}

	lp := proxytest.CLIPackage{Domain: "acme", Format: "nuget", Package: lifecycleLower}
	pkgArgs := lp.Args
	status := func(t *testing.T, v, target string) { a.SetStatus(t, lp, "internal", v, target) }
	// The SHA-256 of 1.0.0's .nupkg, from its assets.
	assets := a.OK(append([]string{"list-package-version-assets"}, pkgArgs("internal", "--package-version", "1.0.0")...)...)
	var sum string
	for _, as := range proxytest.Pick(assets, "assets").([]any) {
		if name, _ := proxytest.Pick(as, "name").(string); strings.HasSuffix(name, ".nupkg") {
			sum, _ = proxytest.Pick(as, "hashes", "SHA-256").(string)
		}
	}
	if want := sha256.Sum256(pkgs["1.0.0"].data); sum != hex.EncodeToString(want[:]) {
		t.Fatalf("list-package-version-assets: %v", assets)
	}

	// install installs with a fresh NuGet.exe (empty caches) from repo and
	// returns the package folders made, or NuGet.exe's failure.
	install := func(t *testing.T, repo, version string) (folders []string, dir, failure string) {
		t.Helper()
		n := newNuGetExe(t, s, repo)
		dir = t.TempDir()
		args := []string{"install", lifecycleID, "-Source", repo, "-OutputDirectory", dir}
		if version != "" {
			args = append(args, "-Version", version)
		}
		out, err := n.run(args...)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			folders = append(folders, e.Name())
		}
		if err != nil {
			return folders, dir, strings.ReplaceAll(out, s.token, "TOKEN")
		}
		return folders, dir, ""
	}
	mustInstall := func(t *testing.T, repo, version, want string) {
		t.Helper()
		got, dir, failure := install(t, repo, version)
		folder := lifecycleID + "." + want
		if !cmp.Equal(got, []string{folder}) {
			t.Fatalf("nuget install %s %q from %s: %v, want %s\n%s", lifecycleID, version, repo, got, folder, failure)
		}
		if b := readFile(t, filepath.Join(dir, folder, folder+".nupkg")); !bytes.Equal(b, pkgs[want].data) {
			t.Fatalf("the installed %s differs from the pushed one", folder)
		}
	}
	mustNotInstall := func(t *testing.T, repo, version string) {
		t.Helper()
		got, _, failure := install(t, repo, version)
		if failure == "" || len(got) != 0 || !strings.Contains(failure, "Package '"+lifecycleID+" "+version+"' is not found") {
			t.Fatalf("nuget install %s %s from %s: %v, want a failure\n%s", lifecycleID, version, repo, got, failure)
		}
	}
	// listed reads the registration: version → listed.
	listed := func(t *testing.T, repo string) map[string]bool {
		t.Helper()
		var idx regIndex
		s.getJSON(s.base(repo)+"/v3/registration-semver2/"+lifecycleLower+"/index.json", &idx)
		out := map[string]bool{}
		for _, p := range idx.Items {
			for _, l := range p.Items {
				out[l.CatalogEntry.Version] = l.CatalogEntry.Listed
			}
		}
		return out
	}
	download := func(t *testing.T, repo, v string) answer {
		t.Helper()
		return s.get(s.base(repo) + "/v3/flatcontainer/" + lifecycleLower + "/" + v + "/" + lifecycleLower + "." + v + ".nupkg")
	}
	mustInstall(t, "internal", "", "1.3.0")

	t.Run("copy", func(t *testing.T) {
		r := a.OK("copy-package-versions", "--domain", "acme", "--source-repository", "internal", "--destination-repository", "dest",
			"--format", "nuget", "--package", lifecycleLower, "--versions", "1.1.0")
		if proxytest.Pick(r, "successfulVersions", "1.1.0", "status") != "Published" {
			t.Fatalf("copy-package-versions: %v", r)
		}
		if diff := cmp.Diff(map[string]bool{"1.1.0": true}, listed(t, "dest")); diff != "" {
			t.Fatalf("dest's registration (-want +got):\n%s", diff)
		}
		mustInstall(t, "dest", "", "1.1.0")
		mustNotInstall(t, "dest", "1.3.0")
	})

	t.Run("unlisted", func(t *testing.T) {
		status(t, "1.3.0", "Unlisted")
		if diff := cmp.Diff(map[string]bool{"1.0.0": true, "1.1.0": true, "1.2.0": true, "1.3.0": false}, listed(t, "internal")); diff != "" {
			t.Fatalf("registration with 1.3.0 Unlisted (-want +got):\n%s", diff)
		}
		if r := download(t, "internal", "1.3.0"); r.code != 200 || !bytes.Equal(r.body, pkgs["1.3.0"].data) {
			t.Fatalf("download of the Unlisted 1.3.0: %d", r.code)
		}
		mustInstall(t, "internal", "1.3.0", "1.3.0")
	})

	t.Run("archived", func(t *testing.T) {
		status(t, "1.2.0", "Archived")
		if diff := cmp.Diff(map[string]bool{"1.0.0": true, "1.1.0": true, "1.3.0": false}, listed(t, "internal")); diff != "" {
			t.Fatalf("registration with 1.2.0 Archived (-want +got):\n%s", diff)
		}
		if got := flatVersions(t, s, "internal", lifecycleLower); cmp.Equal(got, nil) || strings.Contains(strings.Join(got, ","), "1.2.0") {
			t.Fatalf("flat container versions with 1.2.0 Archived: %v", got)
		}
		if r := download(t, "internal", "1.2.0"); r.code != 404 {
			t.Fatalf("download of the Archived 1.2.0: %d", r.code)
		}
		mustNotInstall(t, "internal", "1.2.0")
	})

	t.Run("disposed", func(t *testing.T) {
		r := a.OK(append([]string{"dispose-package-versions"}, pkgArgs("internal", "--versions", "1.0.0")...)...)
		if proxytest.Pick(r, "successfulVersions", "1.0.0", "status") != "Disposed" {
			t.Fatalf("dispose-package-versions: %v", r)
		}
		if diff := cmp.Diff(map[string]bool{"1.1.0": true, "1.3.0": false}, listed(t, "internal")); diff != "" {
			t.Fatalf("registration with 1.0.0 Disposed (-want +got):\n%s", diff)
		}
		if got := flatVersions(t, s, "internal", lifecycleLower); strings.Contains(strings.Join(got, ","), "1.0.0") {
			t.Fatalf("flat container versions with 1.0.0 Disposed: %v", got)
		}
		if r := download(t, "internal", "1.0.0"); r.code != 404 {
			t.Fatalf("download of the Disposed 1.0.0: %d", r.code)
		}
		mustNotInstall(t, "internal", "1.0.0")
		s.in.WaitReclaimed(t, "acme", sum)
	})
}
