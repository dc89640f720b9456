package login

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"
)

const (
	testEndpoint = "http://127.0.0.1:8080/acme/%s/app/"
	testToken    = "tok/en+1=="
)

// planFiles runs tool's plan against files (path relative to /home/u or
// /work/proj, absolute) and returns every file written.
func planFiles(t *testing.T, tool string, project bool, env map[string]string, files map[string]string) map[string]string {
	t.Helper()
	tl, ok := Lookup(tool)
	if !ok {
		t.Fatalf("no tool %s", tool)
	}
	p := Place{Home: "/home/u", Dir: "/work/proj", Project: project,
		Getenv: func(k string) string { return env[k] },
		ReadFile: func(path string) ([]byte, error) {
			if s, ok := files[path]; ok {
				return []byte(s), nil
			}
			return nil, os.ErrNotExist
		}}
	edits, err := tl.Plan(p, Target{Endpoint: strings.Replace(testEndpoint, "%s", tl.Format, 1), Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range edits {
		if (e.Before == nil) != (files[e.Path] == "" && !hasKey(files, e.Path)) {
			t.Errorf("%s: Before does not match the file", e.Path)
		}
		if strings.Contains(e.Path, "/work/proj") && strings.Contains(string(e.After), testToken) {
			t.Errorf("the token went into the project file %s", e.Path)
		}
		if strings.Contains(string(e.After), testToken) && e.Mode&0o077 != 0 {
			t.Errorf("%s holds the token with mode %o", e.Path, e.Mode)
		}
		out[e.Path] = string(e.After)
	}
	return out
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// check is what one file must hold after the edits.
type check struct {
	path       string
	has, lacks []string
	valid      func(t *testing.T, body string)
}

func runChecks(t *testing.T, got map[string]string, checks []check) {
	t.Helper()
	if len(got) != len(checks) {
		var paths []string
		for p := range got {
			paths = append(paths, p)
		}
		t.Errorf("wrote %d files %v, want %d", len(got), paths, len(checks))
	}
	for _, c := range checks {
		body, ok := got[c.path]
		if !ok {
			t.Errorf("%s not written", c.path)
			continue
		}
		for _, h := range c.has {
			if !strings.Contains(body, h) {
				t.Errorf("%s lacks %q:\n%s", c.path, h, body)
			}
		}
		for _, l := range c.lacks {
			if strings.Contains(body, l) {
				t.Errorf("%s still has %q:\n%s", c.path, l, body)
			}
		}
		if c.valid != nil {
			c.valid(t, body)
		}
	}
}

func validTOML(t *testing.T, body string) {
	t.Helper()
	var v map[string]any
	if _, err := toml.Decode(body, &v); err != nil {
		t.Errorf("not TOML: %v\n%s", err, body)
	}
}

func validXML(t *testing.T, body string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(body))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Errorf("not XML: %v\n%s", err, body)
			}
			return
		}
	}
}

func validYAML(t *testing.T, body string) {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(body), &v); err != nil {
		t.Errorf("not YAML: %v\n%s", err, body)
	}
}

func count(s, sub string) int { return strings.Count(s, sub) }

func TestLoginWriters(t *testing.T) {
	const tokURL = "tok%2Fen+1==" // the token as url.UserPassword escapes it
	tests := []struct {
		name    string
		tool    string
		project bool
		env     map[string]string
		files   map[string]string
		checks  []check
	}{
		// npm, pnpm, Yarn 1
		{name: "npm: a new ~/.npmrc", tool: "npm", checks: []check{{path: "/home/u/.npmrc",
			has: []string{"registry=http://127.0.0.1:8080/acme/npm/app/\n", "//127.0.0.1:8080/acme/npm/app/:_authToken=" + testToken + "\n"}}}},
		{name: "npm: merged into an existing ~/.npmrc", tool: "npm",
			files: map[string]string{"/home/u/.npmrc": "# mine\nsave-exact=true\nregistry=https://old.example/\n//127.0.0.1:8080/acme/npm/app/:_authToken=OLD\n@corp:registry=https://corp.example/\n"},
			checks: []check{{path: "/home/u/.npmrc",
				has:   []string{"# mine\nsave-exact=true\nregistry=http://127.0.0.1:8080/acme/npm/app/\n", "_authToken=" + testToken + "\n@corp:registry=https://corp.example/\n"},
				lacks: []string{"OLD", "old.example"}}}},
		{name: "npm: $NPM_CONFIG_USERCONFIG", tool: "npm", env: map[string]string{"NPM_CONFIG_USERCONFIG": "/etc/u.npmrc"},
			checks: []check{{path: "/etc/u.npmrc", has: []string{"_authToken=" + testToken}}}},
		{name: "npm --project: registry in the project, token in the user's file", tool: "npm", project: true,
			files: map[string]string{"/work/proj/.npmrc": "engine-strict=true\n"},
			checks: []check{
				{path: "/work/proj/.npmrc", has: []string{"engine-strict=true\nregistry=http://127.0.0.1:8080/acme/npm/app/\n"}},
				{path: "/home/u/.npmrc", has: []string{"//127.0.0.1:8080/acme/npm/app/:_authToken=" + testToken}, lacks: []string{"registry="}}}},
		{name: "pnpm", tool: "pnpm", checks: []check{{path: "/home/u/.npmrc", has: []string{"registry=http://127.0.0.1:8080/acme/npm/app/", ":_authToken=" + testToken}}}},
		{name: "yarn 1 sends the token always", tool: "yarn", checks: []check{{path: "/home/u/.npmrc",
			has: []string{"registry=http://127.0.0.1:8080/acme/npm/app/", ":_authToken=" + testToken, "//127.0.0.1:8080/acme/npm/app/:always-auth=true"}}}},
		// Yarn 2+
		{name: "yarn-berry: a new ~/.yarnrc.yml", tool: "yarn-berry", checks: []check{{path: "/home/u/.yarnrc.yml",
			has: []string{"npmRegistryServer: http://127.0.0.1:8080/acme/npm/app\n", "unsafeHttpWhitelist:\n  - 127.0.0.1\n",
				"npmRegistries:\n  http://127.0.0.1:8080/acme/npm/app:\n    npmAuthToken: " + testToken + "\n    npmAlwaysAuth: true\n"},
			valid: validYAML}}},
		{name: "yarn-berry --project keeps the project's settings", tool: "yarn-berry", project: true,
			files: map[string]string{"/work/proj/.yarnrc.yml": "# pinned\nnodeLinker: node-modules\nyarnPath: .yarn/releases/yarn-4.1.0.cjs\nnpmRegistryServer: \"https://old.example\"\n"},
			checks: []check{
				{path: "/work/proj/.yarnrc.yml", has: []string{"# pinned\nnodeLinker: node-modules\n", "yarnPath: .yarn/releases/yarn-4.1.0.cjs", "npmRegistryServer: http://127.0.0.1:8080/acme/npm/app\n"},
					lacks: []string{"old.example", "npmAuthToken"}, valid: validYAML},
				{path: "/home/u/.yarnrc.yml", has: []string{"npmAuthToken: " + testToken}, lacks: []string{"npmRegistryServer"}, valid: validYAML}}},
		// Python
		{name: "pip: a new pip.conf", tool: "pip", checks: []check{{path: "/home/u/.config/pip/pip.conf",
			has: []string{"[global]\nindex-url = http://aws:" + tokURL + "@127.0.0.1:8080/acme/pypi/app/simple/\n"}}}},
		{name: "pip: merged, other sections and keys kept", tool: "pip", env: map[string]string{"XDG_CONFIG_HOME": "/xdg"},
			files: map[string]string{"/xdg/pip/pip.conf": "[global]\ntimeout = 60\nindex-url = https://old.example/simple\n  \n[install]\nno-binary = :none:\n"},
			checks: []check{{path: "/xdg/pip/pip.conf",
				has:   []string{"[global]\ntimeout = 60\nindex-url = http://aws:" + tokURL + "@127.0.0.1:8080/acme/pypi/app/simple/\n", "[install]\nno-binary = :none:\n"},
				lacks: []string{"old.example"}}}},
		{name: "pip --project: the virtual environment's pip.conf", tool: "pip", project: true, env: map[string]string{"VIRTUAL_ENV": "/work/proj/.venv"},
			checks: []check{{path: "/work/proj/.venv/pip.conf", has: []string{"index-url = http://aws:"}}}},
		{name: "uv: a default index in uv.toml", tool: "uv",
			files: map[string]string{"/home/u/.config/uv/uv.toml": "native-tls = true\n\n[[index]]\nname = \"internal\"\nurl = \"https://internal.example/simple/\"\n\n[[index]]\nname = \"stockpile\"\nurl = \"http://old/\"\n"},
			checks: []check{{path: "/home/u/.config/uv/uv.toml",
				has: []string{"native-tls = true\n", "name = \"internal\"\nurl = \"https://internal.example/simple/\"\n",
					"[[index]]\nname = \"stockpile\"\nurl = \"http://aws:" + tokURL + "@127.0.0.1:8080/acme/pypi/app/simple/\"\ndefault = true\n"},
				lacks: []string{"http://old/"}, valid: validTOML}}},
		{name: "poetry: repository and http-basic", tool: "poetry",
			files: map[string]string{"/home/u/.config/pypoetry/config.toml": "[virtualenvs]\nin-project = true\n"},
			checks: []check{
				{path: "/home/u/.config/pypoetry/config.toml", has: []string{"[virtualenvs]\nin-project = true\n", "[repositories.stockpile]\nurl = \"http://127.0.0.1:8080/acme/pypi/app/\"\n"}, valid: validTOML},
				{path: "/home/u/.config/pypoetry/auth.toml", has: []string{"[http-basic.stockpile]\nusername = \"aws\"\npassword = \"" + testToken + "\"\n"}, valid: validTOML}}},
		{name: "poetry --project: a primary source in pyproject.toml", tool: "poetry", project: true, env: map[string]string{"POETRY_CONFIG_DIR": "/pc"},
			files: map[string]string{"/work/proj/pyproject.toml": "[tool.poetry]\nname = \"demo\"\n\n[tool.poetry.dependencies]\npython = \"^3.11\"\n"},
			checks: []check{
				{path: "/pc/config.toml", has: []string{"[repositories.stockpile]"}, valid: validTOML},
				{path: "/pc/auth.toml", has: []string{"password = \"" + testToken + "\""}, valid: validTOML},
				{path: "/work/proj/pyproject.toml", has: []string{"[tool.poetry.dependencies]\npython = \"^3.11\"\n",
					"[[tool.poetry.source]]\nname = \"stockpile\"\nurl = \"http://127.0.0.1:8080/acme/pypi/app/simple/\"\npriority = \"primary\"\n"}, valid: validTOML}}},
		{name: "twine: a new ~/.pypirc", tool: "twine", checks: []check{{path: "/home/u/.pypirc",
			has: []string{"[distutils]\nindex-servers = stockpile\n", "[stockpile]\nrepository = http://127.0.0.1:8080/acme/pypi/app/\nusername = aws\npassword = " + testToken + "\n"}}}},
		{name: "twine: added to the index servers", tool: "twine",
			files: map[string]string{"/home/u/.pypirc": "[distutils]\nindex-servers =\n    pypi\n    testpypi\n\n[pypi]\nusername = __token__\n"},
			checks: []check{{path: "/home/u/.pypirc",
				has: []string{"index-servers = pypi\n    testpypi\n    stockpile\n", "[pypi]\nusername = __token__\n", "[stockpile]\nrepository = "}}}},
		// Maven, Gradle
		{name: "maven: a new settings.xml", tool: "maven", checks: []check{{path: "/home/u/.m2/settings.xml",
			has: []string{"<mirror><id>stockpile</id><mirrorOf>*</mirrorOf><url>http://127.0.0.1:8080/acme/maven/app/</url></mirror>",
				"<server><id>stockpile</id><username>aws</username><password>" + testToken + "</password></server>"}, valid: validXML}}},
		{name: "maven: merged into settings.xml, other mirrors, servers and profiles kept", tool: "maven",
			files: map[string]string{"/home/u/.m2/settings.xml": `<?xml version="1.0"?>
<!-- my settings -->
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <localRepository>/cache/m2</localRepository>
  <servers>
    <server><id>corp</id><username>me</username></server>
    <server>
      <id>stockpile</id><password>OLD</password>
    </server>
  </servers>
  <profiles><profile><id>x</id></profile></profiles>
</settings>
`},
			checks: []check{{path: "/home/u/.m2/settings.xml",
				has: []string{"<!-- my settings -->", "<localRepository>/cache/m2</localRepository>", "<server><id>corp</id><username>me</username></server>",
					"<profiles><profile><id>x</id></profile></profiles>", "<mirrors>\n    <mirror><id>stockpile</id>", "<password>" + testToken + "</password>"},
				lacks: []string{"OLD"}, valid: validXML}}},
		{name: "maven: after the user's own mirrors, before a catch-all one", tool: "maven",
			files: map[string]string{"/home/u/.m2/settings.xml": "<settings>\n  <mirrors>\n    <mirror><id>corp</id><mirrorOf>corp-releases</mirrorOf><url>https://corp.example/m2</url></mirror>\n" +
				"    <mirror><id>nexus</id><mirrorOf>external:*</mirrorOf><url>https://nexus.example/m2</url></mirror>\n  </mirrors>\n</settings>\n"},
			checks: []check{{path: "/home/u/.m2/settings.xml",
				has: []string{"<mirrors>\n    <mirror><id>corp</id><mirrorOf>corp-releases</mirrorOf><url>https://corp.example/m2</url></mirror>\n" +
					"    <mirror><id>stockpile</id><mirrorOf>*</mirrorOf><url>http://127.0.0.1:8080/acme/maven/app/</url></mirror>\n" +
					"    <mirror><id>nexus</id><mirrorOf>external:*</mirrorOf>"}, valid: validXML}}},
		{name: "gradle: an init script", tool: "gradle", env: map[string]string{"GRADLE_USER_HOME": "/g"},
			checks: []check{{path: "/g/init.d/stockpile.gradle",
				has: []string{"url = uri('http://127.0.0.1:8080/acme/maven/app/')", "allowInsecureProtocol = true", "password = '" + testToken + "'",
					"settings.pluginManagement.repositories(stockpileRepo)", "settings.dependencyResolutionManagement.repositories(stockpileRepo)", "allprojects {"}}}},
		// NuGet
		{name: "nuget: NuGet.exe's NuGet.Config", tool: "nuget", checks: []check{{path: "/home/u/.config/NuGet/NuGet.Config",
			has: []string{`<add key="stockpile" value="http://127.0.0.1:8080/acme/nuget/app/v3/index.json" allowInsecureConnections="true" />`,
				`<add key="nuget.org" value="true" />`, `<stockpile><add key="Username" value="aws" /><add key="ClearTextPassword" value="` + testToken + `" /></stockpile>`}, valid: validXML}}},
		{name: "dotnet: merged, other sources kept", tool: "dotnet",
			files: map[string]string{"/home/u/.nuget/NuGet/NuGet.Config": `<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
    <add key="Stockpile" value="http://old/" />
  </packageSources>
  <packageSourceCredentials/>
  <config><add key="globalPackagesFolder" value="/cache/nuget" /></config>
</configuration>
`},
			checks: []check{{path: "/home/u/.nuget/NuGet/NuGet.Config",
				has: []string{`<add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />`, `<add key="stockpile" value="http://127.0.0.1:8080/acme/nuget/app/v3/index.json"`,
					`<disabledPackageSources>`, `<packageSourceCredentials>`, `ClearTextPassword" value="` + testToken, `<add key="globalPackagesFolder" value="/cache/nuget" />`},
				lacks: []string{"http://old/"}, valid: validXML}}},
		{name: "nuget --project: source in nuget.config, credentials in the user's", tool: "nuget", project: true,
			checks: []check{
				{path: "/work/proj/nuget.config", has: []string{`<add key="stockpile" value="http://127.0.0.1:8080/acme/nuget/app/v3/index.json"`}, lacks: []string{"ClearTextPassword"}, valid: validXML},
				{path: "/home/u/.config/NuGet/NuGet.Config", has: []string{`ClearTextPassword" value="` + testToken}, lacks: []string{"v3/index.json"}, valid: validXML}}},
		// RubyGems, Bundler
		{name: "gem: the only source, and push credentials", tool: "gem",
			files: map[string]string{"/home/u/.gemrc": "---\n:backtrace: true\n:sources:\n- https://rubygems.org/\n- https://gems.corp.example/\n- http://aws:OLD@127.0.0.1:8080/acme/ruby/app/\ngem: --no-document\n"},
			checks: []check{
				{path: "/home/u/.gemrc", has: []string{":backtrace: true\n", ":sources:\n  - http://aws:" + tokURL + "@127.0.0.1:8080/acme/ruby/app/\n  - https://gems.corp.example/\n", "gem: --no-document\n"},
					lacks: []string{"rubygems.org", "OLD"}, valid: validYAML},
				{path: "/home/u/.gem/credentials", has: []string{"http://127.0.0.1:8080/acme/ruby/app: Bearer " + testToken + "\n"}, valid: validYAML}}},
		{name: "bundler: mirror and host credentials", tool: "bundler",
			files: map[string]string{"/home/u/.bundle/config": "---\nBUNDLE_JOBS: \"4\"\nBUNDLE_127__0__0__1: \"aws:OLD\"\n"},
			checks: []check{{path: "/home/u/.bundle/config",
				has:   []string{"---\nBUNDLE_JOBS: \"4\"\nBUNDLE_127__0__0__1: \"aws:" + testToken + "\"\n", "BUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/: \"http://127.0.0.1:8080/acme/ruby/app/\"\n"},
				lacks: []string{"OLD"}, valid: validYAML}}},
		{name: "bundler --project: mirror in .bundle/config", tool: "bundler", project: true,
			checks: []check{
				{path: "/work/proj/.bundle/config", has: []string{"BUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/: \"http://127.0.0.1:8080/acme/ruby/app/\""}, lacks: []string{"BUNDLE_127"}, valid: validYAML},
				{path: "/home/u/.bundle/config", has: []string{"BUNDLE_127__0__0__1: \"aws:" + testToken + "\""}, valid: validYAML}}},
		// Cargo
		{name: "cargo: new config.toml and credentials.toml", tool: "cargo",
			checks: []check{
				{path: "/home/u/.cargo/config.toml", has: []string{"[registries.stockpile]\nindex = \"sparse+http://127.0.0.1:8080/acme/cargo/app/\"\ncredential-provider = [\"cargo:token\"]\n",
					"[source.crates-io]\nreplace-with = \"stockpile\"\n"}, valid: validTOML},
				{path: "/home/u/.cargo/credentials.toml", has: []string{"[registries.stockpile]\ntoken = \"" + testToken + "\"\n"}, valid: validTOML}}},
		{name: "cargo: merged into CARGO_HOME's files", tool: "cargo", env: map[string]string{"CARGO_HOME": "/c"},
			files: map[string]string{
				"/c/config.toml":      "[build]\njobs = 2\n\n[source.crates-io]\nreplace-with = \"vendored\"\n\n# the vendor\n[source.vendored]\ndirectory = \"vendor\"\n",
				"/c/credentials.toml": "[registry]\ntoken = \"crates-io-token\"\n\n[registries.stockpile]\ntoken = \"OLD\"\n"},
			checks: []check{
				{path: "/c/config.toml", has: []string{"[build]\njobs = 2\n", "[source.crates-io]\nreplace-with = \"stockpile\"\n\n# the vendor\n[source.vendored]\ndirectory = \"vendor\"\n", "[registries.stockpile]"},
					lacks: []string{`"vendored"`}, valid: validTOML},
				{path: "/c/credentials.toml", has: []string{"[registry]\ntoken = \"crates-io-token\"\n", "token = \"" + testToken + "\""}, lacks: []string{"OLD"}, valid: validTOML}}},
		{name: "cargo --project: .cargo/config.toml of the project", tool: "cargo", project: true,
			checks: []check{
				{path: "/work/proj/.cargo/config.toml", has: []string{"replace-with = \"stockpile\""}, valid: validTOML},
				{path: "/home/u/.cargo/credentials.toml", has: []string{"token = \"" + testToken + "\""}, valid: validTOML}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planFiles(t, tt.tool, tt.project, tt.env, tt.files)
			runChecks(t, got, tt.checks)
			// A second login (a new token) edits the same entries: nothing
			// is duplicated.
			again := planFiles(t, tt.tool, tt.project, tt.env, got)
			for path, body := range again {
				if body != got[path] {
					t.Errorf("%s: a second login changed it:\n%s\nthen:\n%s", path, got[path], body)
				}
			}
			for path, body := range got {
				if n := len(regexp.MustCompile(`(?m)^registry=`).FindAllString(body, -1)); n > 1 {
					t.Errorf("%s: registry= %d times", path, n)
				}
				for _, once := range []string{"[registries.stockpile]", "<mirror><id>stockpile</id>", `key="stockpile"`, "[stockpile]", "npmRegistryServer", "BUNDLE_MIRROR"} {
					if n := count(body, once); n > 1 {
						t.Errorf("%s: %q %d times", path, once, n)
					}
				}
			}
		})
	}
}

func TestLoginRefusals(t *testing.T) {
	tests := []struct {
		name    string
		tool    string
		project bool
		files   map[string]string
		want    string
	}{
		{"twine has no project file", "twine", true, nil, "no project configuration file"},
		{"maven has no project file", "maven", true, nil, "no project configuration file"},
		{"pip --project outside a virtual environment", "pip", true, nil, "VIRTUAL_ENV"},
		{"a settings.xml that is not XML", "maven", false, map[string]string{"/home/u/.m2/settings.xml": "<settings><mirrors></settings>"}, "not well-formed"},
		{"a settings.xml of something else", "maven", false, map[string]string{"/home/u/.m2/settings.xml": "<project/>"}, "<project>"},
		{"a Cargo config this cannot merge safely", "cargo", false, map[string]string{"/home/u/.cargo/config.toml": "source.crates-io.replace-with = \"x\"\n"}, "not be valid TOML"},
		{"a .yarnrc.yml that is a list", "yarn-berry", false, map[string]string{"/home/u/.yarnrc.yml": "- a\n"}, "not a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl, _ := Lookup(tt.tool)
			_, err := tl.Plan(Place{Home: "/home/u", Dir: "/work/proj", Project: tt.project,
				ReadFile: func(p string) ([]byte, error) {
					if s, ok := tt.files[p]; ok {
						return []byte(s), nil
					}
					return nil, os.ErrNotExist
				}}, Target{Endpoint: "http://127.0.0.1:8080/acme/x/app/", Token: testToken})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestApplyKeepsABackup(t *testing.T) {
	dir := t.TempDir()
	npmrc := filepath.Join(dir, ".npmrc")
	if err := os.WriteFile(npmrc, []byte("save-exact=true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tl, _ := Lookup("npm")
	edits, err := tl.Plan(Place{Home: dir, Dir: dir}, Target{Endpoint: "http://127.0.0.1:8080/acme/npm/app/", Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	var dry bytes.Buffer
	Describe(&dry, edits, testToken)
	if strings.Contains(dry.String(), testToken) || !strings.Contains(dry.String(), ":_authToken=****") || !strings.Contains(dry.String(), "(edited; the old one kept as "+npmrc+".bak)") {
		t.Fatalf("dry run:\n%s", dry.String())
	}
	if b, _ := os.ReadFile(npmrc); string(b) != "save-exact=true\n" {
		t.Fatalf("planning wrote: %q", b)
	}
	backups, err := Apply(edits)
	if err != nil {
		t.Fatal(err)
	}
	if len(backups) != 1 || backups[0] != npmrc+".bak" {
		t.Fatalf("backups %v", backups)
	}
	if b, _ := os.ReadFile(npmrc + ".bak"); string(b) != "save-exact=true\n" {
		t.Errorf("backup holds %q", b)
	}
	st, _ := os.Stat(npmrc)
	if b, _ := os.ReadFile(npmrc); !strings.Contains(string(b), testToken) || st.Mode().Perm() != 0o600 {
		t.Errorf("written %q with mode %o", b, st.Mode().Perm())
	}
	// a new file holding the token, in a new directory, is private
	tl, _ = Lookup("cargo")
	edits, _ = tl.Plan(Place{Home: dir, Dir: dir}, Target{Endpoint: "http://127.0.0.1:8080/acme/cargo/app/", Token: testToken})
	if _, err := Apply(edits); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, ".cargo", "credentials.toml")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("credentials.toml: %v %v", st, err)
	}
}
