package npm

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// Package lifecycle and governance seen by the real npm: the AWS CLI
// changes version statuses, disposes, copies and blocks a scope, and npm
// shows what each change lets it do.

const (
	lifecycleKeyID  = "AKIDNPMLIFECYCLE"
	lifecycleSecret = "npm-lifecycle-secret"
)

// newLifecycleEnv is newEnv with access keys (tokens required on the data
// plane), an immediate blob collector, and a repository dest that reaches
// nothing: app → [team → npm-store (public:npmjs), internal], dest.
func newLifecycleEnv(t *testing.T) *env {
	t.Helper()
	return newEnvConfig(t, nil, upstream.Options{}, proxytest.LifecycleConfig(lifecycleKeyID, lifecycleSecret))
}

// npmRun is one npm invocation in a fresh project: its own directory,
// .npmrc (registry and tokens), npm cache (nothing is served from an
// earlier run), and optionally a package-lock.json.
type npmRun struct {
	dir, project string
	out          string
	err          error
}

// npmIn runs npm in a fresh project whose registry is repository repo.
// deps and lock, when set, are the project's dependencies and its
// package-lock.json.
func npmIn(t *testing.T, e *env, repo string, deps map[string]string, lock []byte, args ...string) *npmRun {
	t.Helper()
	dir := t.TempDir()
	project := filepath.Join(dir, "project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(e.in.URL, "http:")
	tok := e.in.Token("acme")
	rc := "registry=" + e.url(repo, "") + "\n"
	for _, r := range []string{"app", "internal", "dest"} {
		rc += host + "/acme/npm/" + r + "/:_authToken=" + tok + "\n"
	}
	pj, _ := json.Marshal(map[string]any{"name": "project", "version": "1.0.0", "private": true, "dependencies": deps})
	files := map[string][]byte{filepath.Join(dir, "npmrc"): []byte(rc), filepath.Join(project, ".npmrc"): []byte(rc), filepath.Join(project, "package.json"): pj}
	if lock != nil {
		files[filepath.Join(project, "package-lock.json")] = lock
	}
	for f, b := range files {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = project
	cmd.Env = npmEnv(dir, "npm_config_registry="+e.url(repo, ""), "npm_config_prefer_online=true",
		"npm_config_fetch_retries=0", "npm_config_ignore_scripts=true")
	out, err := cmd.CombinedOutput()
	return &npmRun{dir: dir, project: project, out: string(out), err: err}
}

func (r *npmRun) ok(t *testing.T, what string) *npmRun {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s: %v\n%s", what, r.err, r.out)
	}
	return r
}

// fails checks npm failed, and that its output names one of the reasons.
func (r *npmRun) fails(t *testing.T, what string, reasons ...string) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("%s succeeded, want a failure:\n%s", what, r.out)
	}
	for _, s := range reasons {
		if strings.Contains(r.out, s) {
			return
		}
	}
	t.Fatalf("%s failed without any of %q:\n%s", what, reasons, r.out)
}

// installed is the version of name in the project's node_modules, "" when
// absent.
func (r *npmRun) installed(t *testing.T, name string) string {
	t.Helper()
	return installedVersion(t, r.project, name)
}

// installedVersion is the version of name in project's node_modules, ""
// when absent.
func installedVersion(t *testing.T, project, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(project, "node_modules", filepath.FromSlash(name), "package.json"))
	if err != nil {
		return ""
	}
	var m struct{ Version string }
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Version
}

// checkInstalled fails t for each module of names missing from project's
// node_modules.
func checkInstalled(t *testing.T, project string, names ...string) {
	t.Helper()
	for _, m := range names {
		if _, err := os.Stat(filepath.Join(project, "node_modules", m, "package.json")); err != nil {
			t.Errorf("%s not installed: %v", m, err)
		}
	}
}

// lockFor is the package-lock.json npm writes for a project depending on
// exactly f, resolved through repository repo: what a project that pinned
// the version before its status changed holds.
func lockFor(e *env, repo string, f *fixture) []byte {
	lock := map[string]any{
		"name": "project", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
		"packages": map[string]any{
			"": map[string]any{"name": "project", "version": "1.0.0", "dependencies": map[string]string{f.name: f.version}},
			"node_modules/" + f.name: map[string]any{
				"version": f.version, "resolved": e.url(repo, tarballPath(f.name, f.version)),
				"integrity": f.integrity, "license": "MIT",
			},
		},
	}
	b, _ := json.MarshalIndent(lock, "", "  ")
	return b
}

func TestNpmLifecycleWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	proxytest.RequireTool(t, "npm")
	e := newLifecycleEnv(t)
	a := proxytest.NewAWSCLI(t, e.in, lifecycleKeyID, lifecycleSecret)
	tok := e.in.Token("acme")
	const name = "@acme/private-lib"
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		e.do(http.MethodPut, e.url("internal", escapeName(name)), publishBody(e.fx[name+"@"+v], "latest", nil),
			"Authorization", "Bearer "+tok).must(t, http.StatusOK)
	}
	// The control plane takes the scope without '@' as the namespace.
	lp := proxytest.CLIPackage{Domain: "acme", Format: "npm", Namespace: "acme", Package: "private-lib"}
	pkg := lp.Args
	status := func(t *testing.T, v, target string) { a.SetStatus(t, lp, "internal", v, target) }
	exact := func(v string) map[string]string { return map[string]string{name: v} }

	// The status checks install from internal, the repository whose
	// versions change: a repository that fetched a version through its
	// upstreams keeps a copy with a status of its own (as on CodeArtifact),
	// which a change in internal does not touch.

	// Copied first, while every version is Published: dest holds 1.1.0
	// on its own, and reaches no other repository.
	t.Run("copy", func(t *testing.T) {
		r := a.OK("copy-package-versions", "--domain", "acme", "--source-repository", "internal", "--destination-repository", "dest",
			"--format", "npm", "--namespace", "acme", "--package", "private-lib", "--versions", "1.1.0")
		if proxytest.Pick(r, "successfulVersions", "1.1.0", "status") != "Published" {
			t.Fatalf("copy-package-versions: %v", r)
		}
		run := npmIn(t, e, "dest", nil, nil, "install", "--no-audit", name+"@1.1.0").ok(t, "npm install from dest")
		if got := run.installed(t, name); got != "1.1.0" {
			t.Fatalf("installed %s from dest, want 1.1.0", got)
		}
		out := npmIn(t, e, "dest", nil, nil, "view", name, "versions", "--json").ok(t, "npm view in dest").out
		var vs any
		if err := json.Unmarshal([]byte(out), &vs); err != nil || !cmp.Equal(vs, "1.1.0") && !cmp.Equal(vs, []any{"1.1.0"}) {
			t.Fatalf("npm view versions in dest: %s", out)
		}
	})

	t.Run("unlisted", func(t *testing.T) {
		status(t, "1.2.0", "Unlisted")
		out := npmIn(t, e, "internal", nil, nil, "view", name, "versions", "--json").ok(t, "npm view").out
		var vs []string
		if err := json.Unmarshal([]byte(out), &vs); err != nil || !cmp.Equal(vs, []string{"1.0.0", "1.1.0"}) {
			t.Fatalf("npm view versions with 1.2.0 Unlisted: %s", out)
		}
		run := npmIn(t, e, "internal", nil, nil, "install", "--no-audit", name+"@^1.0.0").ok(t, "npm install a range")
		if got := run.installed(t, name); got != "1.1.0" {
			t.Fatalf("a range installed %s, want 1.1.0", got)
		}
		// npm picks versions from the packument only, so a new exact
		// spec finds no 1.2.0, as on CodeArtifact; a pin in a lockfile
		// still installs it.
		npmIn(t, e, "internal", nil, nil, "install", "--no-audit", name+"@1.2.0").fails(t, "npm install of an Unlisted exact version", "No matching version found for "+name+"@1.2.0")
		run = npmIn(t, e, "internal", exact("1.2.0"), lockFor(e, "internal", e.fx[name+"@1.2.0"]), "ci", "--no-audit").ok(t, "npm ci pinned to the Unlisted 1.2.0")
		if got := run.installed(t, name); got != "1.2.0" {
			t.Fatalf("npm ci installed %s, want 1.2.0", got)
		}
	})

	t.Run("archived", func(t *testing.T) {
		status(t, "1.1.0", "Archived")
		npmIn(t, e, "internal", nil, nil, "install", "--no-audit", name+"@1.1.0").fails(t, "npm install of an Archived version", "No matching version found for "+name+"@1.1.0")
		npmIn(t, e, "internal", exact("1.1.0"), lockFor(e, "internal", e.fx[name+"@1.1.0"]), "ci", "--no-audit").
			fails(t, "npm ci pinned to an Archived version", "private-lib-1.1.0.tgz - not found: version 1.1.0 of @acme/private-lib is Archived")
		// The range falls to what is left.
		run := npmIn(t, e, "internal", nil, nil, "install", "--no-audit", name+"@^1.0.0").ok(t, "npm install a range")
		if got := run.installed(t, name); got != "1.0.0" {
			t.Fatalf("a range installed %s, want 1.0.0", got)
		}
	})

	t.Run("disposed", func(t *testing.T) {
		assets := a.OK(append([]string{"list-package-version-assets"}, pkg("internal", "--package-version", "1.0.0")...)...)
		sum, _ := proxytest.Pick(assets, "assets", 0, "hashes", "SHA-256").(string)
		if sum == "" || len(proxytest.Pick(assets, "assets").([]any)) != 1 {
			t.Fatalf("list-package-version-assets: %v", assets)
		}
		if _, err := e.in.Store.StatBlob(context.Background(), "acme", sum); err != nil {
			t.Fatalf("the tarball's blob before the dispose: %v", err)
		}
		r := a.OK(append([]string{"dispose-package-versions"}, pkg("internal", "--versions", "1.0.0")...)...)
		if proxytest.Pick(r, "successfulVersions", "1.0.0", "status") != "Disposed" {
			t.Fatalf("dispose-package-versions: %v", r)
		}
		npmIn(t, e, "internal", exact("1.0.0"), lockFor(e, "internal", e.fx[name+"@1.0.0"]), "ci", "--no-audit").
			fails(t, "npm ci pinned to a Disposed version", "private-lib-1.0.0.tgz - not found: version 1.0.0 of @acme/private-lib is Disposed")
		npmIn(t, e, "internal", nil, nil, "install", "--no-audit", name+"@1.0.0").fails(t, "npm install of a Disposed version", "404 Not Found", "No matching version found")
		e.in.WaitReclaimed(t, "acme", sum)
	})

	// External versions of the scope are blocked; unscoped public packages
	// and the scope's internal versions are not.
	t.Run("package group blocks the scope's external versions", func(t *testing.T) {
		a.BlockExternal(t, "acme", "/npm/acme/*")
		assoc := a.OK("get-associated-package-group", "--domain", "acme", "--format", "npm", "--namespace", "acme", "--package", "util")
		if proxytest.Pick(assoc, "packageGroup", "pattern") != "/npm/acme/*" {
			t.Fatalf("get-associated-package-group: %v", assoc)
		}
		npmIn(t, e, "app", nil, nil, "install", "--no-audit", "@acme/util").fails(t, "npm install of a blocked external package", "@acme%2futil - not found")
		npmIn(t, e, "app", nil, nil, "install", "--no-audit", "@acme/util@1.0.0").fails(t, "npm install of a blocked external version", "@acme%2futil - not found")
		run := npmIn(t, e, "app", nil, nil, "install", "--no-audit", "left-pad-lite").ok(t, "npm install outside the group")
		if got := run.installed(t, "left-pad-lite"); got != "1.1.0" {
			t.Fatalf("left-pad-lite %q installed, want 1.1.0", got)
		}
		if n := e.fake.Hits(upstreamTarballPath("@acme/util", "1.2.0")) + e.fake.Hits(upstreamTarballPath("@acme/util", "1.0.0")); n != 0 {
			t.Fatalf("a blocked tarball was fetched from the upstream %d times", n)
		}
	})
}
