package login

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// sourceName is the name of the registry, source or server the files
// define, where the tool names them.
const sourceName = "stockpile"

// basicUser is the user name sent with the token as password, as
// CodeArtifact's guides write it; the server ignores it.
const basicUser = "aws"

// Tools lists every tool login configures.
func Tools() []Tool {
	return []Tool{
		{Name: "npm", Format: "npm", Files: ".npmrc: registry and //HOST/PATH/:_authToken", plan: planNPM(false)},
		{Name: "pnpm", Format: "npm", Files: ".npmrc (pnpm reads npm's): registry and _authToken", plan: planNPM(false)},
		{Name: "yarn", Format: "npm", Files: "Yarn 1 (classic) reads .npmrc: registry, _authToken and always-auth", plan: planNPM(true)},
		{Name: "yarn-berry", Format: "npm", Files: ".yarnrc.yml (Yarn 2+): npmRegistryServer; npmRegistries token in ~/.yarnrc.yml", plan: planYarnBerry},
		{Name: "pip", Format: "pypi", Files: "pip.conf [global] index-url with the token (user file, or $VIRTUAL_ENV/pip.conf with --project)", plan: planPip},
		{Name: "uv", Format: "pypi", Files: "~/.config/uv/uv.toml: a default [[index]] with the token in its URL", plan: planUV},
		{Name: "poetry", Format: "pypi", Files: "poetry's config.toml repository and auth.toml http-basic; with --project a primary [[tool.poetry.source]] in pyproject.toml", plan: planPoetry},
		{Name: "twine", Format: "pypi", Files: "~/.pypirc: index-servers and a [stockpile] section", plan: planTwine},
		{Name: "maven", Format: "maven", Files: "~/.m2/settings.xml: a mirror of * and its server's credentials", plan: planMaven},
		{Name: "gradle", Format: "maven", Files: "~/.gradle/init.d/stockpile.gradle: every repository and plugin repository through Stockpile", plan: planGradle},
		{Name: "nuget", Format: "nuget", Files: "NuGet.Config of NuGet.exe (~/.config/NuGet): source, credentials, nuget.org disabled", plan: planNuGet(".config/NuGet/NuGet.Config")},
		{Name: "dotnet", Format: "nuget", Files: "NuGet.Config of dotnet (~/.nuget/NuGet): source, credentials, nuget.org disabled", plan: planNuGet(".nuget/NuGet/NuGet.Config")},
		{Name: "gem", Format: "ruby", Files: "~/.gemrc :sources: and ~/.gem/credentials for gem push", plan: planGem},
		{Name: "bundler", Format: "ruby", Files: "Bundler's config: a mirror of rubygems.org and BUNDLE_<HOST> credentials", plan: planBundler},
		{Name: "cargo", Format: "cargo", Files: "Cargo's config.toml: a sparse registry replacing crates.io; its token in credentials.toml", plan: planCargo},
	}
}

// --- npm, pnpm, Yarn 1 -------------------------------------------------

// npmUserConfig is npm's user file ($NPM_CONFIG_USERCONFIG or ~/.npmrc,
// https://docs.npmjs.com/cli/configuring-npm/npmrc).
func npmUserConfig(p Place) string {
	if f := p.Getenv("NPM_CONFIG_USERCONFIG"); f != "" {
		return f
	}
	return filepath.Join(p.Home, ".npmrc")
}

// nerfDart is npm's key prefix for settings of one registry: the URL
// without its scheme, "//host:port/path/".
func nerfDart(endpoint string) string {
	u, _ := url.Parse(endpoint)
	return "//" + u.Host + u.Path
}

func planNPM(alwaysAuth bool) func(Place, Target) ([]Edit, error) {
	return func(p Place, t Target) ([]Edit, error) {
		auth := []kv{{nerfDart(t.Endpoint) + ":_authToken", t.Token}}
		if alwaysAuth {
			auth = append(auth, kv{nerfDart(t.Endpoint) + ":always-auth", "true"})
		}
		user := npmUserConfig(p)
		registry := []kv{{"registry", t.Endpoint}}
		if !p.Project {
			e, err := p.edit(user, 0o600, func(old []byte) ([]byte, error) { return setLines(old, "=", append(registry, auth...)), nil })
			return []Edit{e}, err
		}
		proj, err := p.edit(filepath.Join(p.Dir, ".npmrc"), 0o644, func(old []byte) ([]byte, error) { return setLines(old, "=", registry), nil })
		if err != nil {
			return nil, err
		}
		u, err := p.edit(user, 0o600, func(old []byte) ([]byte, error) { return setLines(old, "=", auth), nil })
		return []Edit{proj, u}, err
	}
}

// --- Yarn 2+ ------------------------------------------------------------

// planYarnBerry sets npmRegistryServer (and, for plain HTTP,
// unsafeHttpWhitelist) in .yarnrc.yml and the token under npmRegistries in
// the user's ~/.yarnrc.yml (https://yarnpkg.com/configuration/yarnrc).
func planYarnBerry(p Place, t Target) ([]Edit, error) {
	u, _ := url.Parse(t.Endpoint)
	server := strings.TrimSuffix(t.Endpoint, "/")
	settings := []yamlSet{{path: []string{"npmRegistryServer"}, value: server}}
	if u.Scheme == "http" {
		settings = append(settings, yamlSet{path: []string{"unsafeHttpWhitelist"}, list: []string{u.Hostname()}})
	}
	auth := []yamlSet{
		{path: []string{"npmRegistries", server, "npmAuthToken"}, value: t.Token},
		{path: []string{"npmRegistries", server, "npmAlwaysAuth"}, value: "true", tag: "!!bool"},
	}
	user := filepath.Join(p.Home, ".yarnrc.yml")
	if !p.Project {
		e, err := p.edit(user, 0o600, func(old []byte) ([]byte, error) { return setYAML(old, append(settings, auth...)) })
		return []Edit{e}, err
	}
	proj, err := p.edit(filepath.Join(p.Dir, ".yarnrc.yml"), 0o644, func(old []byte) ([]byte, error) { return setYAML(old, settings) })
	if err != nil {
		return nil, err
	}
	e, err := p.edit(user, 0o600, func(old []byte) ([]byte, error) { return setYAML(old, auth) })
	return []Edit{proj, e}, err
}

// --- Python -------------------------------------------------------------

// withBasic is the URL with user basicUser and the token as password.
func withBasic(endpoint, token string) string {
	u, _ := url.Parse(endpoint)
	u.User = url.UserPassword(basicUser, token)
	return u.String()
}

// planPip sets [global] index-url, as `pip config set global.index-url`
// does, in the user's pip.conf ($XDG_CONFIG_HOME/pip/pip.conf) or, with
// --project, the active virtual environment's
// (https://pip.pypa.io/en/stable/topics/configuration/).
func planPip(p Place, t Target) ([]Edit, error) {
	file := filepath.Join(p.configHome(), "pip", "pip.conf")
	if p.Project {
		venv := p.Getenv("VIRTUAL_ENV")
		if venv == "" {
			return nil, fmt.Errorf("pip %w but a virtual environment's pip.conf: activate one (VIRTUAL_ENV)", ErrNoProjectFile)
		}
		file = filepath.Join(venv, "pip.conf")
	}
	e, err := p.edit(file, 0o600, func(old []byte) ([]byte, error) {
		return setINI(old, "global", []kv{{"index-url", withBasic(t.Endpoint+"simple/", t.Token)}}), nil
	})
	return []Edit{e}, err
}

// planUV adds a default index to the user's uv.toml
// (https://docs.astral.sh/uv/configuration/indexes/), credentials in its
// URL, which uv accepts; a project's uv.toml is committed, so --project is
// refused.
func planUV(p Place, t Target) ([]Edit, error) {
	if p.Project {
		return nil, fmt.Errorf("uv: the token would go into the index URL of a committed file: use the user's uv.toml")
	}
	file := filepath.Join(p.configHome(), "uv", "uv.toml")
	e, err := p.edit(file, 0o600, func(old []byte) ([]byte, error) {
		return setTOML(old, tomlTable{header: "index", array: true, match: hasTOMLKey("name", sourceName), lines: []string{
			"name = " + tomlString(sourceName),
			"url = " + tomlString(withBasic(t.Endpoint+"simple/", t.Token)),
			"default = true",
		}})
	})
	return []Edit{e}, err
}

// poetryDir is poetry's configuration directory on Linux
// ($POETRY_CONFIG_DIR, else $XDG_CONFIG_HOME/pypoetry).
func poetryDir(p Place) string {
	if d := p.Getenv("POETRY_CONFIG_DIR"); d != "" {
		return d
	}
	return filepath.Join(p.configHome(), "pypoetry")
}

// planPoetry writes what `poetry config repositories.stockpile URL` and
// `poetry config http-basic.stockpile aws TOKEN` write (auth.toml is where
// poetry keeps credentials without a keyring), and with --project a
// primary source in pyproject.toml
// (https://python-poetry.org/docs/repositories/).
func planPoetry(p Place, t Target) ([]Edit, error) {
	dir := poetryDir(p)
	conf, err := p.edit(filepath.Join(dir, "config.toml"), 0o644, func(old []byte) ([]byte, error) {
		return setTOML(old, tomlTable{header: "repositories." + sourceName, lines: []string{"url = " + tomlString(t.Endpoint)}})
	})
	if err != nil {
		return nil, err
	}
	auth, err := p.edit(filepath.Join(dir, "auth.toml"), 0o600, func(old []byte) ([]byte, error) {
		return setTOML(old, tomlTable{header: "http-basic." + sourceName, lines: []string{
			"username = " + tomlString(basicUser), "password = " + tomlString(t.Token)}})
	})
	if err != nil {
		return nil, err
	}
	edits := []Edit{conf, auth}
	if p.Project {
		proj, err := p.edit(filepath.Join(p.Dir, "pyproject.toml"), 0o644, func(old []byte) ([]byte, error) {
			if old == nil {
				return nil, fmt.Errorf("no pyproject.toml here: run login --project in the project's directory")
			}
			return setTOML(old, tomlTable{header: "tool.poetry.source", array: true, match: hasTOMLKey("name", sourceName), lines: []string{
				"name = " + tomlString(sourceName), "url = " + tomlString(t.Endpoint+"simple/"), `priority = "primary"`}})
		})
		if err != nil {
			return nil, err
		}
		edits = append(edits, proj)
	}
	return edits, nil
}

// planTwine adds a stockpile server to ~/.pypirc
// (https://packaging.python.org/en/latest/specifications/pypirc/):
// `twine upload -r stockpile`.
func planTwine(p Place, t Target) ([]Edit, error) {
	if p.Project {
		return nil, fmt.Errorf("twine %w: it reads ~/.pypirc", ErrNoProjectFile)
	}
	e, err := p.edit(filepath.Join(p.Home, ".pypirc"), 0o600, func(old []byte) ([]byte, error) {
		servers := iniValue(old, "distutils", "index-servers")
		list := strings.Fields(servers)
		found := false
		for _, s := range list {
			found = found || s == sourceName
		}
		if !found {
			list = append(list, sourceName)
		}
		out := setINI(old, "distutils", []kv{{"index-servers", strings.Join(list, "\n    ")}})
		return setINI(out, sourceName, []kv{{"repository", t.Endpoint}, {"username", basicUser}, {"password", t.Token}}), nil
	})
	return []Edit{e}, err
}

// iniValue reads key of section, continuation lines joined by newlines.
func iniValue(b []byte, section, key string) string {
	in, on := false, false
	var val []string
	for _, line := range splitLines(b) {
		t := strings.TrimSpace(line)
		indented := line != "" && (line[0] == ' ' || line[0] == '\t')
		switch {
		case on && indented && t != "":
			val = append(val, t)
			continue
		case strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]"):
			in = strings.TrimSpace(t[1:len(t)-1]) == section
		case in && !indented:
			if k, v, ok := strings.Cut(t, "="); ok && strings.TrimSpace(k) == key {
				val, on = []string{strings.TrimSpace(v)}, true
				continue
			}
		}
		on = false
	}
	return strings.Join(val, "\n")
}
