package nuget_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats/nuget"
)

// nugetExe drives NuGet.exe 5.8 under mono with its own HOME, package
// folders, caches and NuGet.Config, whose sources are Stockpile
// repositories with the token as a clear-text password (sent only after a
// 401 with a Basic challenge).
type nugetExe struct {
	t         *testing.T
	mono, exe string
	home      string
	config    string
	token     string
}

func newNuGetExe(t *testing.T, s *stockpile, repos ...string) *nugetExe {
	t.Helper()
	mono, exe := requireNuGetExe(t)
	home := t.TempDir()
	var srcs, creds strings.Builder
	for _, r := range repos {
		fmt.Fprintf(&srcs, "    <add key=%q value=%q protocolVersion=\"3\" />\n", r, s.base(r)+"/v3/index.json")
		fmt.Fprintf(&creds, "    <%s>\n      <add key=\"Username\" value=\"aws\" />\n      <add key=\"ClearTextPassword\" value=%q />\n    </%s>\n", r, s.token, r)
	}
	config := filepath.Join(home, "NuGet.Config")
	doc := "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n" + srcs.String() +
		"  </packageSources>\n  <packageSourceCredentials>\n" + creds.String() + "  </packageSourceCredentials>\n</configuration>\n"
	if err := os.WriteFile(config, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return &nugetExe{t: t, mono: mono, exe: exe, home: home, config: config, token: s.token}
}

// run runs one NuGet.exe command with the config file, non-interactively.
func (n *nugetExe) run(args ...string) (string, error) {
	n.t.Helper()
	args = append([]string{n.exe}, args...)
	args = append(args, "-ConfigFile", n.config, "-NonInteractive", "-Verbosity", "detailed")
	cmd := exec.Command(n.mono, args...)
	cmd.Env = isolatedEnv(n.home)
	cmd.Dir = n.home
	began := time.Now()
	out, err := cmd.CombinedOutput()
	n.t.Logf("nuget %s: %v in %s", args[1], err, time.Since(began).Round(time.Millisecond))
	return string(out), err
}

func (n *nugetExe) mustRun(args ...string) string {
	n.t.Helper()
	out, err := n.run(args...)
	if err != nil {
		n.t.Fatalf("nuget %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// install installs a package (any version when version is "") from one
// source into a fresh directory and returns the package folders made.
func (n *nugetExe) install(source, id, version string, extra ...string) (dir string, folders []string) {
	n.t.Helper()
	dir, err := os.MkdirTemp(n.home, "out-*")
	if err != nil {
		n.t.Fatal(err)
	}
	args := []string{"install", id, "-Source", source, "-OutputDirectory", dir}
	if version != "" {
		args = append(args, "-Version", version)
	}
	n.mustRun(append(args, extra...)...)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		folders = append(folders, e.Name())
	}
	sort.Strings(folders)
	return dir, folders
}

// clearCaches empties every local cache (global packages, HTTP cache).
func (n *nugetExe) clearCaches() {
	n.t.Helper()
	n.mustRun("locals", "all", "-clear")
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNuGetExeInstallThroughUpstreams(t *testing.T) {
	runNuGetExeInstall(t, 0)
}

// TestNuGetExeInstallReplicas is the install scenario through a load
// balancer over three replicas on PostgreSQL and SeaweedFS: each package
// comes from the upstream once, and once every replica has restarted with
// the upstream gone, what was installed installs again.
func TestNuGetExeInstallReplicas(t *testing.T) {
	runNuGetExeInstall(t, 3)
}

func runNuGetExeInstall(t *testing.T, replicas int) {
	requireNuGetExe(t)
	feed := standardFeed(t)
	// Small pages, so NuGet.exe follows Stockpile's registration pages too.
	s := start(t, feed, startOptions{format: nuget.NewWithOptions(nuget.Options{PageSize: 2, InlineLimit: 2}), replicas: replicas})
	n := newNuGetExe(t, s, "app")

	t.Run("a SemVer 2.0 package and its dependency, through app → team → nuget-store", func(t *testing.T) {
		dir, got := n.install("app", "Contoso.Widgets", "2.0.0")
		if diff := cmp.Diff([]string{"Contoso.Core.1.1.0", "Contoso.Widgets.2.0.0"}, got); diff != "" {
			t.Fatalf("installed (-want +got):\n%s", diff)
		}
		if b := readFile(t, filepath.Join(dir, "Contoso.Widgets.2.0.0", "Contoso.Widgets.2.0.0.nupkg")); !bytes.Equal(b, widgetsV2(t).data) {
			t.Fatal("the installed package differs from the upstream's")
		}
		for _, repo := range []string{"app", "nuget-store"} {
			if !s.held(repo, "contoso.widgets", "2.0.0") || !s.held(repo, "contoso.core", "1.1.0") {
				t.Errorf("%s does not hold what was installed", repo)
			}
		}
		if s.held("team", "contoso.widgets", "2.0.0") {
			t.Error("team, between app and nuget-store, holds a copy")
		}
	})
	t.Run("a pre-release", func(t *testing.T) {
		if _, got := n.install("app", "Contoso.Widgets", "1.1.0-beta.1"); !cmp.Equal(got, []string{"Contoso.Widgets.1.1.0-beta.1"}) {
			t.Fatalf("installed %v", got)
		}
	})
	t.Run("the latest version of a paged package", func(t *testing.T) {
		if _, got := n.install("app", "Contoso.Many", ""); !cmp.Equal(got, []string{"Contoso.Many.1.1.0"}) {
			t.Fatalf("installed %v", got)
		}
	})
	t.Run("a non-normalised version", func(t *testing.T) {
		if _, got := n.install("app", "contoso.core", "1.01.0.0"); !cmp.Equal(got, []string{"contoso.core.1.1.0"}) && !cmp.Equal(got, []string{"Contoso.Core.1.1.0"}) {
			t.Fatalf("installed %v", got)
		}
	})

	for _, b := range []*built{widgetsV2(t), coreV1(t)} {
		if n := feed.srv.Hits(feed.nupkgPath(b)); n != 1 {
			t.Errorf("%s fetched from the upstream %d times, want 1", b.file(), n)
		}
	}

	// The upstream goes away; with every local cache cleared, what was
	// installed before comes from Stockpile alone.
	feed.srv.Close()
	s.restart()
	n.clearCaches()
	t.Run("offline, caches cleared", func(t *testing.T) {
		dir, got := n.install("app", "Contoso.Widgets", "2.0.0")
		if diff := cmp.Diff([]string{"Contoso.Core.1.1.0", "Contoso.Widgets.2.0.0"}, got); diff != "" {
			t.Fatalf("installed (-want +got):\n%s", diff)
		}
		if b := readFile(t, filepath.Join(dir, "Contoso.Widgets.2.0.0", "Contoso.Widgets.2.0.0.nupkg")); !bytes.Equal(b, widgetsV2(t).data) {
			t.Fatal("the installed package differs from the upstream's")
		}
	})
}

func TestNuGetExePushInstallDelete(t *testing.T) {
	runNuGetExePushInstallDelete(t, 0)
}

// TestNuGetExePushInstallDeleteReplicas is the push, install and delete
// scenario through a load balancer over three replicas on PostgreSQL and
// SeaweedFS: what one replica takes in, the next one serves or hides.
func TestNuGetExePushInstallDeleteReplicas(t *testing.T) {
	runNuGetExePushInstallDelete(t, 3)
}

func runNuGetExePushInstallDelete(t *testing.T, replicas int) {
	requireNuGetExe(t)
	s := start(t, standardFeed(t), startOptions{replicas: replicas})
	n := newNuGetExe(t, s, "app", "internal", "team")
	write := func(b *built) string {
		p := filepath.Join(n.home, b.id+"."+b.key+".nupkg")
		if err := os.WriteFile(p, b.data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	push := func(b *built) (string, error) {
		return n.run("push", write(b), "-Source", "internal", "-ApiKey", s.token)
	}
	content := func(dir, folder string) string {
		return string(readFile(t, filepath.Join(dir, folder, "content", "readme.txt")))
	}

	t.Run("push to internal", func(t *testing.T) {
		if out, err := push(privateInternal(t, "0.5.0")); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
	})
	t.Run("pushing the same version again fails with a conflict", func(t *testing.T) {
		out, err := push(privateInternal(t, "0.5.0"))
		if err == nil || !strings.Contains(out, "409") {
			t.Fatalf("second push: %v\n%s", err, out)
		}
	})
	t.Run("install without a version through app: the internal version, not the upstream's 9.0.0", func(t *testing.T) {
		dir, got := n.install("app", "Contoso.Internal", "")
		if !cmp.Equal(got, []string{"Contoso.Internal.0.5.0"}) {
			t.Fatalf("installed %v", got)
		}
		if c := content(dir, got[0]); c != "internal 0.5.0\n" {
			t.Fatalf("content %q", c)
		}
	})
	// What `nuget delete` hides, as on nuget.org: the version leaves search
	// and is marked unlisted in the registration, and stays downloadable.
	// (NuGet.exe 5.8's `install` without -Version still takes the highest
	// version, listed or not — NuGet/Home#3872, #7466 — so the hiding is
	// read from the feed here.)
	listedIn := func(repo string) map[string]bool {
		var idx regIndex
		s.getJSON(s.base(repo)+"/v3/registration-semver2/contoso.internal/index.json", &idx)
		out := map[string]bool{}
		for _, p := range idx.Items {
			for _, l := range p.Items {
				out[l.CatalogEntry.Version] = l.CatalogEntry.Listed
			}
		}
		return out
	}
	t.Run("nuget delete on internal hides a version app has not copied", func(t *testing.T) {
		if out, err := push(privateInternal(t, "0.6.0")); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		if got := s.searchVersions("app", "contoso.internal"); !cmp.Equal(got, []string{"0.5.0", "0.6.0"}) {
			t.Fatalf("search before the delete: %v", got)
		}
		n.mustRun("delete", "Contoso.Internal", "0.6.0", "-Source", "internal", "-ApiKey", s.token)
		if got := s.searchVersions("app", "contoso.internal"); !cmp.Equal(got, []string{"0.5.0"}) {
			t.Fatalf("search after the delete: %v", got)
		}
		if diff := cmp.Diff(map[string]bool{"0.5.0": true, "0.6.0": false}, listedIn("app")); diff != "" {
			t.Fatalf("listed (-want +got):\n%s", diff)
		}
		// Unlisted, not gone: asked for by version it still installs.
		n.clearCaches()
		dir, got := n.install("app", "Contoso.Internal", "0.6.0")
		if !cmp.Equal(got, []string{"Contoso.Internal.0.6.0"}) || content(dir, got[0]) != "internal 0.6.0\n" {
			t.Fatalf("installed %v", got)
		}
	})
	t.Run("nuget delete on app hides the copy app keeps", func(t *testing.T) {
		// A status belongs to a repository, as in CodeArtifact: once app
		// has retained 0.7.0, unlisting it for app's clients is done on app.
		if out, err := push(privateInternal(t, "0.7.0")); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		n.clearCaches()
		if _, got := n.install("app", "Contoso.Internal", ""); !cmp.Equal(got, []string{"Contoso.Internal.0.7.0"}) {
			t.Fatalf("installed %v", got)
		}
		if out, err := n.run("delete", "Contoso.Internal", "0.7.0", "-Source", "team", "-ApiKey", s.token); err == nil {
			t.Fatalf("delete through a repository that does not hold the version succeeded:\n%s", out)
		}
		n.mustRun("delete", "Contoso.Internal", "0.7.0", "-Source", "app", "-ApiKey", s.token)
		if diff := cmp.Diff(map[string]bool{"0.5.0": true, "0.6.0": false, "0.7.0": false}, listedIn("app")); diff != "" {
			t.Fatalf("app (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]bool{"0.5.0": true, "0.6.0": false, "0.7.0": true}, listedIn("internal")); diff != "" {
			t.Fatalf("internal (-want +got):\n%s", diff)
		}
	})
}
