package npm

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// TestNpmClient drives the real npm (publish, install, dist-tag,
// deprecate, unpublish, ping, whoami, search) against Stockpile in front of
// the fake upstream. Everything stays on loopback.
func TestNpmClient(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	proxytest.RequireTool(t, "npm")
	runNpmClient(t, newEnv(t, nil))
}

// TestNpmClientReplicas runs the npm client's whole scenario (publish,
// install, dist-tags, deprecate, search, unpublish) through a load balancer
// in front of three replicas on PostgreSQL and SeaweedFS, each request
// going to the next replica.
func TestNpmClientReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	proxytest.RequireTool(t, "npm")
	runNpmClient(t, newEnvReplicas(t, 3))
}

func runNpmClient(t *testing.T, e *env) {
	dir := t.TempDir()
	app, internal := e.url("app", ""), e.url("internal", "")
	host := strings.TrimPrefix(e.in.URL, "http:")
	rc := "registry=" + app + "\n" +
		host + "/acme/npm/app/:_authToken=" + e.in.Token("acme") + "\n" +
		host + "/acme/npm/internal/:_authToken=" + e.in.Token("acme") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "npmrc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	npm := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.Command("npm", args...)
		cmd.Dir = filepath.Join(dir, "project")
		cmd.Env = npmEnv(dir, "npm_config_registry="+app, "npm_config_prefer_online=true")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("npm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if err := os.MkdirAll(filepath.Join(dir, "project"), 0o755); err != nil {
		t.Fatal(err)
	}
	tarball := func(key string) string {
		f := e.fx[key]
		p := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(key, "@"), "/", "-")+".tgz")
		if err := os.WriteFile(p, f.tgz, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("publish", func(t *testing.T) {
		npm(t, "publish", tarball("@acme/private-lib@1.0.0"), "--registry", internal, "--access", "public")
		npm(t, "publish", tarball("@acme/private-lib@1.1.0"), "--registry", internal, "--access", "public")
		p := e.packument("internal", "@acme%2fprivate-lib")
		if len(p.Versions) != 2 || p.Tags["latest"] != "1.1.0" {
			t.Fatalf("after publish: versions %v tags %v", keys(p.Versions), p.Tags)
		}
		if got := p.version(t, "1.0.0").Dist.Integrity; got != e.fx["@acme/private-lib@1.0.0"].integrity {
			t.Errorf("integrity %s", got)
		}
	})

	t.Run("install through app", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "project", "package.json"), []byte(`{"name":"project","version":"1.0.0","private":true}`), 0o644)
		npm(t, "install", "--ignore-scripts", "--no-audit", "@acme/private-lib", "@acme/util")
		checkInstalled(t, filepath.Join(dir, "project"), "@acme/private-lib", "@acme/util", "left-pad-lite")
		lock, err := os.ReadFile(filepath.Join(dir, "project", "package-lock.json"))
		if err != nil {
			t.Fatal(err)
		}
		var l struct {
			Packages map[string]struct{ Version, Resolved, Integrity string }
		}
		json.Unmarshal(lock, &l)
		lp := l.Packages["node_modules/left-pad-lite"]
		if lp.Version != "1.1.0" || lp.Resolved != app+"left-pad-lite/-/left-pad-lite-1.1.0.tgz" || lp.Integrity != e.fx["left-pad-lite@1.1.0"].integrity {
			t.Errorf("lockfile entry %+v", lp)
		}
		if e.record("app", pkgOf("@acme/util"), "1.2.0") == nil || e.record("npm-store", pkgOf("@acme/util"), "1.2.0") == nil {
			t.Error("installed upstream version was not retained in app and npm-store")
		}
		if e.record("team", pkgOf("@acme/util"), "1.2.0") != nil {
			t.Error("team retained a version it only passed on")
		}
	})

	t.Run("dist-tag", func(t *testing.T) {
		npm(t, "dist-tag", "add", "@acme/private-lib@1.0.0", "stable", "--registry", internal)
		out := npm(t, "dist-tag", "ls", "@acme/private-lib", "--registry", internal)
		if !strings.Contains(out, "stable: 1.0.0") || !strings.Contains(out, "latest: 1.1.0") {
			t.Errorf("dist-tag ls:\n%s", out)
		}
		npm(t, "dist-tag", "rm", "@acme/private-lib", "stable", "--registry", internal)
		if out := npm(t, "dist-tag", "ls", "@acme/private-lib", "--registry", internal); strings.Contains(out, "stable") {
			t.Errorf("after rm:\n%s", out)
		}
	})

	t.Run("deprecate", func(t *testing.T) {
		npm(t, "deprecate", "@acme/private-lib@1.0.0", "use 1.1.0", "--registry", internal)
		if got := e.packument("app", "@acme%2fprivate-lib", "Accept", acceptCorgi).version(t, "1.0.0").Deprecated; got != "use 1.1.0" {
			t.Errorf("deprecated %q", got)
		}
		out := npm(t, "view", "@acme/private-lib@1.0.0", "deprecated", "--registry", internal)
		if !strings.Contains(out, "use 1.1.0") {
			t.Errorf("npm view: %s", out)
		}
		npm(t, "deprecate", "@acme/private-lib@1.0.0", "", "--registry", internal)
		if got := e.packument("internal", "@acme%2fprivate-lib").version(t, "1.0.0").Deprecated; got != "" {
			t.Errorf("after undeprecate %q", got)
		}
	})

	t.Run("ping whoami search", func(t *testing.T) {
		npm(t, "ping", "--registry", internal)
		if out := npm(t, "whoami", "--registry", internal); strings.TrimSpace(out) != "local" {
			t.Errorf("whoami %q", out)
		}
		if out := npm(t, "search", "private-lib", "--registry", app); !strings.Contains(out, "@acme/private-lib") {
			t.Errorf("search:\n%s", out)
		}
	})

	t.Run("unpublish one version", func(t *testing.T) {
		npm(t, "unpublish", "@acme/private-lib@1.0.0", "--registry", internal, "--force")
		p := e.packument("internal", "@acme%2fprivate-lib")
		if len(p.Versions) != 1 || p.Tags["latest"] != "1.1.0" {
			t.Errorf("after unpublish: versions %v tags %v", keys(p.Versions), p.Tags)
		}
		e.get("internal", "@acme/private-lib/-/private-lib-1.0.0.tgz").npmError(t, http.StatusNotFound)
	})

	t.Run("unpublish the package", func(t *testing.T) {
		npm(t, "unpublish", "@acme/private-lib", "--registry", internal, "--force")
		e.get("internal", "@acme%2fprivate-lib").npmError(t, http.StatusNotFound)
	})
}

// clientProject prepares a project directory whose .npmrc points at app
// with tokens for app and internal, and a runner for a client binary.
func clientProject(t *testing.T, e *env, tool string) (dir string, run func(t *testing.T, args ...string) string) {
	t.Helper()
	proxytest.RequireTool(t, tool)
	dir = t.TempDir()
	host := strings.TrimPrefix(e.in.URL, "http:")
	tok := e.in.Token("acme")
	rc := "registry=" + e.url("app", "") + "\n" +
		host + "/acme/npm/app/:_authToken=" + tok + "\n" +
		host + "/acme/npm/internal/:_authToken=" + tok + "\n"
	project := filepath.Join(dir, "project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(dir, "npmrc"), filepath.Join(project, ".npmrc")} {
		if err := os.WriteFile(f, []byte(rc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(project, "package.json"), []byte(`{"name":"project","version":"1.0.0","private":true}`), 0o644)
	run = func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := clientCommand(e, dir, tool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	return dir, run
}

// clientCommand is tool run with args in the project clientProject made
// in dir, its caches and configuration there.
func clientCommand(e *env, dir, tool string, args ...string) *exec.Cmd {
	cmd := exec.Command(tool, args...)
	cmd.Dir = filepath.Join(dir, "project")
	cmd.Env = npmEnv(dir, "npm_config_registry="+e.url("app", ""),
		"YARN_CACHE_FOLDER="+filepath.Join(dir, "yarn-cache"), "YARN_ENABLE_TELEMETRY=0",
		"npm_config_store_dir="+filepath.Join(dir, "pnpm-store"), "npm_config_cache_dir="+filepath.Join(dir, "pnpm-cache"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CACHE_HOME="+filepath.Join(dir, "xdg-cache"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"CI=true")
	return cmd
}

// privateLibProject starts an install test of a real client: an env with
// @acme/private-lib 1.0.0 published in internal, and tool's project.
func privateLibProject(t *testing.T, tool string) (e *env, dir string, run func(t *testing.T, args ...string) string) {
	t.Helper()
	if testing.Short() {
		t.Skip("real-client test")
	}
	e = newEnv(t, nil)
	dir, run = clientProject(t, e, tool)
	e.publish("internal", e.fx["@acme/private-lib@1.0.0"], "latest")
	return e, dir, run
}

// TestPnpmClient installs through app with pnpm, which asks for the
// abbreviated packuments and checks the Content-Type echo.
func TestPnpmClient(t *testing.T) {
	e, dir, pnpm := privateLibProject(t, "pnpm")
	pnpm(t, "add", "--ignore-scripts", "@acme/private-lib", "@acme/util", "left-pad-lite@beta")
	checkInstalled(t, filepath.Join(dir, "project"), "@acme/private-lib", "@acme/util", "left-pad-lite")
	lock, _ := os.ReadFile(filepath.Join(dir, "project", "pnpm-lock.yaml"))
	if !strings.Contains(string(lock), "left-pad-lite@2.0.0-beta.1") || !strings.Contains(string(lock), e.fx["@acme/util@1.2.0"].integrity) {
		t.Errorf("pnpm-lock.yaml:\n%s", lock)
	}
	if e.record("app", pkgOf("@acme/util"), "1.2.0") == nil {
		t.Error("pnpm's download was not retained")
	}
}

// TestYarnClient installs through app with yarn v1 and publishes with it.
func TestYarnClient(t *testing.T) {
	e, dir, yarn := privateLibProject(t, "yarn")
	yarn(t, "add", "--ignore-scripts", "--non-interactive", "@acme/private-lib", "@acme/util")
	checkInstalled(t, filepath.Join(dir, "project"), "@acme/private-lib", "@acme/util", "left-pad-lite")
	lock, _ := os.ReadFile(filepath.Join(dir, "project", "yarn.lock"))
	if !strings.Contains(string(lock), e.url("app", "@acme/util/-/util-1.2.0.tgz")) {
		t.Errorf("yarn.lock:\n%s", lock)
	}
	pkg := filepath.Join(dir, "lib")
	os.MkdirAll(pkg, 0o755)
	manifest, _ := json.Marshal(e.fx["@acme/private-lib@1.1.0"].manifest)
	os.WriteFile(filepath.Join(pkg, "package.json"), manifest, 0o644)
	os.WriteFile(filepath.Join(pkg, "index.js"), []byte("module.exports = 1;\n"), 0o644)
	yarn(t, "publish", pkg, "--non-interactive", "--registry", e.url("internal", ""), "--access", "public")
	if p := e.packument("internal", "@acme%2fprivate-lib"); p.Tags["latest"] != "1.1.0" || len(p.Versions) != 2 {
		t.Errorf("after yarn publish: versions %v tags %v", keys(p.Versions), p.Tags)
	}
}
