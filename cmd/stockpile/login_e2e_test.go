package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// These tests run `stockpile login` into an empty home and then the real
// client, with that home and nothing else configured, against a running
// Stockpile that requires credentials.

type loginEnv struct {
	t     *testing.T
	in    *proxytest.Instance
	home  string
	token string // for the test's own publishing
}

// startLoginEnv starts Stockpile with the domain acme, its repository app
// reading through repos (each with its external connection) and an admin
// access key.
func startLoginEnv(t *testing.T, connections map[string]upstream.Options, repos ...proxy.RepositoryConfig) *loginEnv {
	t.Helper()
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIAADMIN", Secret: "admin-secret", Admin: true}}
	cfg.Connections = connections
	app := proxy.RepositoryConfig{Name: "app"}
	for _, r := range repos {
		app.Upstreams = append(app.Upstreams, r.Name)
	}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: append(repos, app)}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: allFormats()})
	home := filepath.Join(t.TempDir(), "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return &loginEnv{t: t, in: in, home: home, token: in.Token("acme")}
}

// login runs `stockpile login --tool TOOL --domain acme --repository app`
// with the home and AWS keys in its environment, as a user would.
func (e *loginEnv) login(tool string, extra ...string) string {
	e.t.Helper()
	env := map[string]string{"HOME": e.home, "AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": e.in.URL}
	code, out, errOut := runCLI(e.t, func(k string) string { return env[k] },
		append([]string{"login", "--tool", tool, "--domain", "acme", "--repository", "app"}, extra...)...)
	if code != 0 {
		e.t.Fatalf("stockpile login --tool %s: exit %d\n%s%s", tool, code, out, errOut)
	}
	return out
}

// clientEnv is the environment a client runs with: the home, PATH, a
// locale and extra, nothing else.
func (e *loginEnv) clientEnv(extra ...string) []string {
	return append([]string{"HOME=" + e.home, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8", "NO_PROXY=*", "no_proxy=*"}, extra...)
}

// client runs a real client in dir and returns its output.
func (e *loginEnv) client(dir string, env []string, name string, args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, proxytest.RequireTool(e.t, name), args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// put sends a publish request with the test's token.
func (e *loginEnv) put(method, path, contentType string, body []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.in.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
}

func mkdir(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the client did not install: %v", err)
	}
}

func TestLoginNPMClients(t *testing.T) {
	for _, tool := range []string{"npm", "pnpm", "yarn"} {
		t.Run(tool, func(t *testing.T) {
			e := startLoginEnv(t, nil)
			e.put(http.MethodPut, "/acme/npm/app/login-demo", "application/json", publishBody(t, "login-demo"))
			e.login(tool)
			proj := mkdir(t, t.TempDir(), map[string]string{"package.json": `{"name":"proj","version":"1.0.0","private":true}`})
			env := e.clientEnv()
			switch tool {
			case "npm":
				e.client(proj, env, "npm", "install", "login-demo@1.0.0", "--no-audit", "--no-fund", "--no-update-notifier")
			case "pnpm":
				e.client(proj, env, "pnpm", "add", "login-demo@1.0.0")
			case "yarn":
				e.client(proj, env, "yarn", "add", "login-demo@1.0.0", "--non-interactive", "--no-progress")
			}
			mustExist(t, filepath.Join(proj, "node_modules", "login-demo", "package.json"))
		})
	}
}

func TestLoginTwineAndPip(t *testing.T) {
	e := startLoginEnv(t, nil)
	e.login("twine")
	dist := t.TempDir()
	const distInfo = "login_demo-1.0.dist-info"
	wheel := formattest.Wheel(distInfo,
		formattest.Text("login_demo.py", "VERSION = '1.0'\n"),
		formattest.Text(distInfo+"/METADATA", "Metadata-Version: 2.1\nName: login-demo\nVersion: 1.0\nSummary: login fixture\n"),
		formattest.Text(distInfo+"/WHEEL", "Wheel-Version: 1.0\nGenerator: stockpile-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
	whl := filepath.Join(dist, "login_demo-1.0-py3-none-any.whl")
	if err := os.WriteFile(whl, wheel, 0o644); err != nil {
		t.Fatal(err)
	}
	py := []string{"PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1", "PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring", "TWINE_NON_INTERACTIVE=1"}
	e.client(dist, e.clientEnv(py...), "twine", "upload", "-r", "stockpile", whl)

	e.login("pip")
	target := t.TempDir()
	e.client(t.TempDir(), e.clientEnv(py...), "pip", "install", "--no-cache-dir", "--target", target, "login-demo==1.0")
	mustExist(t, filepath.Join(target, "login_demo.py"))
}

func TestLoginCargo(t *testing.T) {
	e := startLoginEnv(t, nil)
	crate := formattest.Crate("login-demo", "1.0.0",
		formattest.Text("Cargo.toml", "[package]\nname = \"login-demo\"\nversion = \"1.0.0\"\nedition = \"2021\"\n"),
		formattest.Text("src/lib.rs", "pub fn f() {}\n"))
	meta := map[string]any{"name": "login-demo", "vers": "1.0.0", "deps": []any{}, "features": map[string]any{}, "authors": []string{},
		"description": "login fixture", "license": "MIT", "keywords": []string{}, "categories": []string{}, "badges": map[string]any{}}
	e.put(http.MethodPut, "/acme/cargo/app/api/v1/crates/new", "application/octet-stream", cargoPublishBody(t, meta, crate))
	e.login("cargo")
	proj := mkdir(t, t.TempDir(), map[string]string{
		"Cargo.toml": "[package]\nname = \"proj\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nlogin-demo = \"1.0\"\n",
		"src/lib.rs": "",
	})
	env := e.clientEnv("CARGO_TERM_COLOR=never", "CARGO_NET_RETRY=0")
	if rh := os.Getenv("RUSTUP_HOME"); rh != "" {
		env = append(env, "RUSTUP_HOME="+rh)
	} else if h, _ := os.UserHomeDir(); h != "" {
		env = append(env, "RUSTUP_HOME="+filepath.Join(h, ".rustup")) // the toolchain rustup installed; cargo's own home is the test's
	}
	e.client(proj, env, "cargo", "fetch")
	got, _ := filepath.Glob(filepath.Join(e.home, ".cargo", "registry", "cache", "*", "login-demo-1.0.0.crate"))
	if len(got) != 1 {
		t.Fatalf("cargo fetch did not download login-demo: %v", got)
	}
}

func cargoPublishBody(t *testing.T, meta map[string]any, crate []byte) []byte {
	t.Helper()
	m, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	b = appendU32(b, len(m))
	b = append(b, m...)
	b = appendU32(b, len(crate))
	return append(b, crate...)
}

func appendU32(b []byte, n int) []byte {
	return append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
}

func TestLoginGemAndBundler(t *testing.T) {
	e := startLoginEnv(t, nil)
	spec := "--- !ruby/object:Gem::Specification\nname: login-demo\nversion: !ruby/object:Gem::Version\n  version: 1.0.0\n" +
		"platform: ruby\nauthors:\n- x\ndate: 2024-01-01 00:00:00.000000000 Z\ndependencies: []\nfiles:\n- lib/login_demo.rb\nrequire_paths:\n- lib\n" +
		"rubygems_version: 3.3.15\nspecification_version: 4\nsummary: login fixture\n"
	e.put(http.MethodPost, "/acme/ruby/app/api/v1/gems", "application/octet-stream",
		formattest.Gem(spec, formattest.Text("lib/login_demo.rb", "module LoginDemo; end\n")))

	t.Run("gem", func(t *testing.T) {
		e.login("gem")
		gems := t.TempDir()
		e.client(t.TempDir(), e.clientEnv(), "gem", "install", "login-demo", "--version", "1.0.0", "--install-dir", gems, "--no-document")
		mustExist(t, filepath.Join(gems, "gems", "login-demo-1.0.0", "lib", "login_demo.rb"))
	})
	t.Run("bundler", func(t *testing.T) {
		e.login("bundler")
		proj := mkdir(t, t.TempDir(), map[string]string{"Gemfile": "source \"https://rubygems.org\"\ngem \"login-demo\", \"1.0.0\"\n"})
		vendor := t.TempDir()
		e.client(proj, e.clientEnv("BUNDLE_PATH="+vendor, "BUNDLE_SILENCE_ROOT_WARNING=true", "BUNDLE_RETRY=0"), "bundle", "install")
		got, _ := filepath.Glob(filepath.Join(vendor, "ruby", "*", "gems", "login-demo-1.0.0", "lib", "login_demo.rb"))
		if len(got) != 1 {
			t.Fatalf("bundle install did not install login-demo into %s", vendor)
		}
	})
}

// debianCentral serves Debian's Maven repository as Maven Central lays
// it out, with .sha1 and .md5 sidecars and each artifact's
// maven-metadata.xml made from its version directories.
func debianCentral(t *testing.T) *httptest.Server {
	t.Helper()
	const root = "/usr/share/maven-repo"
	if _, err := os.Stat(filepath.Join(root, "org/apache/maven/plugins/maven-compiler-plugin/3.10.1")); err != nil {
		if os.Getenv("STOCKPILE_E2E") == "require" {
			t.Fatalf("Debian's Maven plugins are required (STOCKPILE_E2E=require): %v", err)
		}
		t.Skip("Debian's Maven repository (libmaven-*-plugin-java) is not installed")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rel := path.Clean(strings.TrimPrefix(r.URL.Path, "/maven2/"))
		if strings.HasPrefix(rel, "..") {
			http.NotFound(w, r)
			return
		}
		body, err := mavenFile(root, rel)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func mavenFile(root, rel string) ([]byte, error) {
	switch {
	case strings.HasSuffix(rel, ".sha1"), strings.HasSuffix(rel, ".md5"):
		ext := path.Ext(rel)
		body, err := mavenFile(root, strings.TrimSuffix(rel, ext))
		if err != nil {
			return nil, err
		}
		if ext == ".sha1" {
			s := sha1.Sum(body)
			return []byte(hex.EncodeToString(s[:])), nil
		}
		s := md5.Sum(body)
		return []byte(hex.EncodeToString(s[:])), nil
	case path.Base(rel) == "maven-metadata.xml":
		dir := path.Dir(rel)
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			return nil, err
		}
		var versions []string
		for _, en := range entries {
			if poms, _ := filepath.Glob(filepath.Join(root, dir, en.Name(), "*.pom")); len(poms) > 0 {
				versions = append(versions, en.Name())
			}
		}
		if len(versions) == 0 {
			return nil, os.ErrNotExist
		}
		sort.Strings(versions)
		i := strings.LastIndexByte(dir, '/')
		return formattest.MavenMetadata(strings.ReplaceAll(dir[:i], "/", "."), dir[i+1:], "20240101000000", versions...), nil
	}
	return os.ReadFile(filepath.Join(root, rel))
}

func TestLoginMaven(t *testing.T) {
	proxytest.RequireTool(t, "mvn")
	central := debianCentral(t)
	e := startLoginEnv(t, map[string]upstream.Options{"public:maven-central": {URL: central.URL + "/maven2/", Retries: 1}},
		proxy.RepositoryConfig{Name: "maven-store", ExternalConnection: "public:maven-central"})
	e.login("maven")
	proj := mkdir(t, t.TempDir(), map[string]string{
		"pom.xml": `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId><artifactId>proj</artifactId><version>1.0</version>
  <properties>
    <maven.compiler.source>11</maven.compiler.source><maven.compiler.target>11</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency><groupId>commons-io</groupId><artifactId>commons-io</artifactId><version>2.11.0</version></dependency>
  </dependencies>
  <build><pluginManagement><plugins>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.10.1</version></plugin>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.3.0</version></plugin>
  </plugins></pluginManagement></build>
</project>
`,
		"src/main/java/app/App.java": "package app;\npublic class App { public static String ext() { return org.apache.commons.io.FilenameUtils.getExtension(\"x.txt\"); } }\n",
	})
	// Java takes user.home from the password database, not HOME: tell it
	// the test's home, which is the user's home for a real user.
	e.client(proj, e.clientEnv("MAVEN_OPTS=-Xshare:auto -XX:TieredStopAtLevel=1 -Duser.home="+e.home), "mvn", "-B", "-ntp", "compile")
	mustExist(t, filepath.Join(e.home, ".m2", "repository", "commons-io", "commons-io", "2.11.0", "commons-io-2.11.0.jar"))
	mustExist(t, filepath.Join(proj, "target", "classes", "app", "App.class"))
}

// nugetExe finds NuGet.exe as the format's tests do: STOCKPILE_NUGET_EXE,
// else the npm package nuget-exe@5.8.0 below npm's global prefix.
func nugetExe(t *testing.T) (mono, exe string) {
	t.Helper()
	mono = proxytest.RequireTool(t, "mono")
	exe = os.Getenv("STOCKPILE_NUGET_EXE")
	if exe == "" {
		if out, err := exec.Command("npm", "config", "get", "prefix").Output(); err == nil {
			exe = filepath.Join(strings.TrimSpace(string(out)), "lib/node_modules/nuget-exe/nuget-5.8.0.exe")
		}
	}
	if _, err := os.Stat(exe); exe == "" || err != nil {
		if os.Getenv("STOCKPILE_E2E") == "require" {
			t.Fatalf("nuget.exe is required (STOCKPILE_E2E=require): set STOCKPILE_NUGET_EXE")
		}
		t.Skip("nuget.exe not installed")
	}
	return mono, exe
}

func TestLoginNuGetExe(t *testing.T) {
	mono, exe := nugetExe(t)
	e := startLoginEnv(t, nil)
	nuspec := `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>
<id>Login.Demo</id><version>1.0.0</version><authors>x</authors><description>login fixture</description>
</metadata></package>`
	e.put(http.MethodPut, "/acme/nuget/app/api/v2/package", "application/octet-stream",
		formattest.Nupkg("Login.Demo", []byte(nuspec), formattest.Text("content/readme.txt", "login fixture\n")))
	e.login("nuget")
	out := t.TempDir()
	e.client(t.TempDir(), e.clientEnv(), mono, exe, "install", "Login.Demo", "-Version", "1.0.0", "-OutputDirectory", out, "-NonInteractive")
	mustExist(t, filepath.Join(out, "Login.Demo.1.0.0", "content", "readme.txt"))
}

func TestLoginCommand(t *testing.T) {
	e := startLoginEnv(t, nil)
	env := func(kv ...string) func(string) string {
		m := map[string]string{"HOME": e.home, "STOCKPILE_ENDPOINT": e.in.URL}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	keys := []string{"AWS_ACCESS_KEY_ID", "AKIAADMIN", "AWS_SECRET_ACCESS_KEY", "admin-secret"}
	npmrc := filepath.Join(e.home, ".npmrc")
	base := []string{"login", "--domain", "acme", "--repository", "app"}
	tests := []struct {
		name     string
		env      func(string) string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
		wrote    bool
	}{
		{"no tool", env(keys...), base, 2, "", "--tool is required: one of bundler, cargo,", false},
		{"an unknown tool", env(keys...), append(base, "--tool", "ant"), 2, "", `unknown --tool "ant"`, false},
		{"no repository", env(keys...), []string{"login", "--tool", "npm", "--domain", "acme"}, 2, "", "--domain and --repository are required", false},
		{"--project where the tool has none", env(keys...), append(base, "--tool", "maven", "--project"), 2, "", "no project configuration file", false},
		{"a token lifetime the server refuses", env(keys...), append(base, "--tool", "npm", "--duration", "1m"), 1, "", "ValidationException", false},
		{"no credentials", env(), append(base, "--tool", "npm"), 1, "", "no AWS credentials", false},
		{"wrong credentials", env("AWS_ACCESS_KEY_ID", "AKIAADMIN", "AWS_SECRET_ACCESS_KEY", "nope"), append(base, "--tool", "npm"), 1, "", "GetRepositoryEndpoint", false},
		{"an unknown repository", env(keys...), []string{"login", "--tool", "npm", "--domain", "acme", "--repository", "nope"}, 1, "", "ResourceNotFoundException", false},
		{"--dry-run masks the token and writes nothing", env(keys...), append(base, "--tool", "npm", "--dry-run"), 0,
			"--- " + npmrc + " (new file)\nregistry=" + e.in.URL + "/acme/npm/app/\n//" + strings.TrimPrefix(e.in.URL, "http://") + "/acme/npm/app/:_authToken=****\n", "", false},
		{"a scoped token without AWS credentials", env("STOCKPILE_TOKEN", "stkpl_given"), append(base, "--tool", "npm"), 0, "npm now uses " + e.in.URL + "/acme/npm/app/", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(npmrc)
			code, out, errOut := runCLI(t, tt.env, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout with %q, stderr with %q", code, tt.wantCode, out, errOut, tt.wantOut, tt.wantErr)
			}
			b, err := os.ReadFile(npmrc)
			if (err == nil) != tt.wrote {
				t.Fatalf(".npmrc written: %v, want %v", err == nil, tt.wrote)
			}
			if tt.wrote && !strings.Contains(string(b), ":_authToken=stkpl_given") {
				t.Fatalf(".npmrc: %s", b)
			}
		})
	}
	// A real login's token works on the data plane.
	e.login("npm")
	b, _ := os.ReadFile(npmrc)
	_, tok, _ := strings.Cut(string(b), ":_authToken=")
	req, _ := http.NewRequest(http.MethodGet, e.in.URL+"/acme/npm/app/nothing-here", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the token login wrote: %d, want 404 (authenticated, no such package)", resp.StatusCode)
	}
}
