package login

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// --- Maven, Gradle ------------------------------------------------------

// planMaven mirrors every repository to Stockpile in ~/.m2/settings.xml and
// gives the mirror's server the token as password
// (https://maven.apache.org/settings.html, https://maven.apache.org/guides/mini/guide-mirror-settings.html),
// merged into an existing file.
func planMaven(p Place, t Target) ([]Edit, error) {
	if p.Project {
		return nil, fmt.Errorf("maven %w: it reads credentials from ~/.m2/settings.xml", ErrNoProjectFile)
	}
	mirror := "<mirror><id>" + sourceName + "</id><mirrorOf>*</mirrorOf><url>" + xmlEscape(t.Endpoint) + "</url></mirror>"
	server := "<server><id>" + sourceName + "</id><username>" + basicUser + "</username><password>" + xmlEscape(t.Token) + "</password></server>"
	const template = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<settings xmlns=\"http://maven.apache.org/SETTINGS/1.0.0\">\n</settings>\n"
	e, err := p.edit(filepath.Join(p.Home, ".m2", "settings.xml"), 0o600, func(old []byte) ([]byte, error) {
		return editXML(old, template, "settings", func(root *elem) []splice {
			byID := func(e *elem) bool {
				c := e.child("id")
				return c != nil && strings.TrimSpace(c.text.String()) == sourceName
			}
			// after the user's own mirrors, so that they keep their
			// repositories, but before a catch-all one ("*",
			// "external:*"), which would take everything first
			catchAll := func(e *elem) bool {
				c := e.child("mirrorOf")
				return c != nil && strings.Contains(c.text.String(), "*")
			}
			return append(upsertAt(root, "mirrors", mirror, byID, catchAll), upsert(root, "servers", server, byID)...)
		})
	})
	return []Edit{e}, err
}

// editXML applies edit to the root element of old (named root), or of
// template when old is missing or empty.
func editXML(old []byte, template, rootName string, edit func(*elem) []splice) ([]byte, error) {
	if len(strings.TrimSpace(string(old))) == 0 {
		old = []byte(template)
	}
	root, err := parseXML(old)
	if err != nil {
		return nil, err
	}
	if root.name != rootName {
		return nil, fmt.Errorf("the root element is <%s>, not <%s>", root.name, rootName)
	}
	if root.selfClosing {
		old = append(append(append([]byte{}, old[:root.start]...), "<"+rootName+">\n</"+rootName+">"...), old[root.end:]...)
		if root, err = parseXML(old); err != nil {
			return nil, err
		}
	}
	out := applySplices(old, edit(root))
	if _, err := parseXML(out); err != nil {
		return nil, fmt.Errorf("the merged file would not be well-formed: %w", err)
	}
	return out, nil
}

// gradleHome is $GRADLE_USER_HOME or ~/.gradle.
func gradleHome(p Place) string {
	if d := p.Getenv("GRADLE_USER_HOME"); d != "" {
		return d
	}
	return filepath.Join(p.Home, ".gradle")
}

// planGradle writes an init script that Gradle runs for every build
// (https://docs.gradle.org/current/userguide/init_scripts.html): plugin
// and dependency repositories of every settings and project replaced by
// Stockpile with the token as password.
func planGradle(p Place, t Target) ([]Edit, error) {
	if p.Project {
		return nil, fmt.Errorf("gradle %w: the init script lives in ~/.gradle/init.d", ErrNoProjectFile)
	}
	u, _ := url.Parse(t.Endpoint)
	insecure := ""
	if u.Scheme == "http" {
		insecure = "\n        allowInsecureProtocol = true"
	}
	repo := `maven {
        name = 'stockpile'
        url = uri(` + groovyString(t.Endpoint) + `)` + insecure + `
        credentials {
            username = 'aws'
            password = ` + groovyString(t.Token) + `
        }
    }`
	script := `// Written by stockpile login: every repository is Stockpile's.
def stockpileRepo = { handler ->
    handler.clear()
    handler.` + repo + `
}
beforeSettings { settings ->
    settings.pluginManagement.repositories(stockpileRepo)
}
settingsEvaluated { settings ->
    settings.dependencyResolutionManagement.repositories(stockpileRepo)
}
allprojects {
    buildscript.repositories(stockpileRepo)
    repositories(stockpileRepo)
}
`
	e, err := p.edit(filepath.Join(gradleHome(p), "init.d", "stockpile.gradle"), 0o600, func([]byte) ([]byte, error) { return []byte(script), nil })
	return []Edit{e}, err
}

// groovyString quotes s as a Groovy single-quoted string.
func groovyString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// --- NuGet --------------------------------------------------------------

// planNuGet adds Stockpile's v3 index as a source, disables nuget.org and
// stores the credentials, in the NuGet.Config at rel below the home (or,
// with --project, the project's nuget.config for the source and the
// user's for the credentials)
// (https://learn.microsoft.com/nuget/reference/nuget-config-file).
func planNuGet(rel string) func(Place, Target) ([]Edit, error) {
	return func(p Place, t Target) ([]Edit, error) {
		u, _ := url.Parse(t.Endpoint)
		insecure := ""
		if u.Scheme == "http" {
			insecure = ` allowInsecureConnections="true"`
		}
		source := `<add key="` + sourceName + `" value="` + xmlEscape(t.Endpoint+"v3/index.json") + `"` + insecure + ` />`
		disabled := `<add key="nuget.org" value="true" />`
		creds := "<" + sourceName + `><add key="Username" value="` + basicUser + `" /><add key="ClearTextPassword" value="` + xmlEscape(t.Token) + `" /></` + sourceName + ">"
		byKey := func(key string) func(*elem) bool {
			return func(e *elem) bool { return e.name == "add" && strings.EqualFold(e.attr("key"), key) }
		}
		const template = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n</configuration>\n"
		sourceEdit := func(root *elem) []splice {
			return append(upsert(root, "packageSources", source, byKey(sourceName)), upsert(root, "disabledPackageSources", disabled, byKey("nuget.org"))...)
		}
		credEdit := func(root *elem) []splice {
			return upsert(root, "packageSourceCredentials", creds, func(e *elem) bool { return strings.EqualFold(e.name, sourceName) })
		}
		user := filepath.Join(p.Home, rel)
		if !p.Project {
			e, err := p.edit(user, 0o600, func(old []byte) ([]byte, error) {
				return editXML(old, template, "configuration", func(root *elem) []splice { return append(sourceEdit(root), credEdit(root)...) })
			})
			return []Edit{e}, err
		}
		proj, err := p.edit(filepath.Join(p.Dir, "nuget.config"), 0o644, func(old []byte) ([]byte, error) {
			return editXML(old, template, "configuration", sourceEdit)
		})
		if err != nil {
			return nil, err
		}
		e, err := p.edit(user, 0o600, func(old []byte) ([]byte, error) { return editXML(old, template, "configuration", credEdit) })
		return []Edit{proj, e}, err
	}
}

// --- RubyGems, Bundler --------------------------------------------------

// planGem makes Stockpile the only gem source in ~/.gemrc, as `gem sources
// --add URL --remove https://rubygems.org/` does, with the token as
// password, and gives `gem push --host ENDPOINT` the token in
// ~/.gem/credentials (https://guides.rubygems.org/command-reference/#gem-sources).
func planGem(p Place, t Target) ([]Edit, error) {
	if p.Project {
		return nil, fmt.Errorf("gem %w: use --tool bundler for a project", ErrNoProjectFile)
	}
	rc, err := p.edit(filepath.Join(p.Home, ".gemrc"), 0o600, func(old []byte) ([]byte, error) {
		return setYAML(old, []yamlSet{{path: []string{":sources"}, list: gemSources(old, t)}})
	})
	if err != nil {
		return nil, err
	}
	host := strings.TrimSuffix(t.Endpoint, "/")
	cred, err := p.edit(filepath.Join(p.Home, ".gem", "credentials"), 0o600, func(old []byte) ([]byte, error) {
		return setYAML(old, []yamlSet{{path: []string{host}, value: "Bearer " + t.Token}})
	})
	return []Edit{rc, cred}, err
}

// gemSources is the new :sources: list: Stockpile first, then the
// existing sources but rubygems.org and an older login to the same
// endpoint.
func gemSources(old []byte, t Target) []string {
	out := []string{withBasic(t.Endpoint, t.Token)}
	var doc struct {
		Sources []string `yaml:":sources"`
	}
	_ = yamlUnmarshal(old, &doc)
	for _, s := range doc.Sources {
		u, err := url.Parse(s)
		if err != nil {
			continue
		}
		u.User = nil
		if strings.TrimSuffix(u.String(), "/") == strings.TrimSuffix(t.Endpoint, "/") || u.Host == "rubygems.org" {
			continue
		}
		out = append(out, s)
	}
	return out
}

// bundleKey is Bundler's environment-style key of a setting
// (Bundler::Settings.key_for: "." → "__", "-" → "___", upper case).
func bundleKey(s string) string {
	s = strings.ReplaceAll(s, ".", "__")
	s = strings.ReplaceAll(s, "-", "___")
	return "BUNDLE_" + strings.ToUpper(s)
}

// bundleConfig is Bundler's user configuration file
// ($BUNDLE_USER_CONFIG, $BUNDLE_USER_HOME/config, ~/.bundle/config).
func bundleConfig(p Place) string {
	if f := p.Getenv("BUNDLE_USER_CONFIG"); f != "" {
		return f
	}
	if d := p.Getenv("BUNDLE_USER_HOME"); d != "" {
		return filepath.Join(d, "config")
	}
	return filepath.Join(p.Home, ".bundle", "config")
}

// planBundler mirrors rubygems.org to Stockpile, so Gemfiles keep their
// `source "https://rubygems.org"`, and gives the host its credentials, as
// `bundle config set mirror.https://rubygems.org URL` and `bundle config
// set HOST aws:TOKEN` write them (https://bundler.io/man/bundle-config.1.html).
func planBundler(p Place, t Target) ([]Edit, error) {
	u, _ := url.Parse(t.Endpoint)
	mirror := []kv{{bundleKey("mirror.https://rubygems.org/"), yamlQuote(t.Endpoint)}}
	cred := []kv{{bundleKey(u.Hostname()), yamlQuote(basicUser + ":" + t.Token)}}
	user := bundleConfig(p)
	withHeader := func(old []byte, sets []kv) []byte {
		if len(old) == 0 {
			old = []byte("---\n")
		}
		return setLines(old, ": ", sets)
	}
	if !p.Project {
		e, err := p.edit(user, 0o600, func(old []byte) ([]byte, error) { return withHeader(old, append(mirror, cred...)), nil })
		return []Edit{e}, err
	}
	proj, err := p.edit(filepath.Join(p.Dir, ".bundle", "config"), 0o644, func(old []byte) ([]byte, error) { return withHeader(old, mirror), nil })
	if err != nil {
		return nil, err
	}
	e, err := p.edit(user, 0o600, func(old []byte) ([]byte, error) { return withHeader(old, cred), nil })
	return []Edit{proj, e}, err
}

// yamlQuote is a YAML double-quoted string, as Bundler writes values.
func yamlQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// --- Cargo --------------------------------------------------------------

// cargoHome is $CARGO_HOME or ~/.cargo.
func cargoHome(p Place) string {
	if d := p.Getenv("CARGO_HOME"); d != "" {
		return d
	}
	return filepath.Join(p.Home, ".cargo")
}

// planCargo defines a sparse registry and replaces crates.io with it in
// config.toml (CARGO_HOME's, or the project's .cargo/config.toml), its
// token in CARGO_HOME/credentials.toml
// (https://doc.rust-lang.org/cargo/reference/config.html,
// https://doc.rust-lang.org/cargo/reference/source-replacement.html).
func planCargo(p Place, t Target) ([]Edit, error) {
	conf := filepath.Join(cargoHome(p), "config.toml")
	if p.Project {
		conf = filepath.Join(p.Dir, ".cargo", "config.toml")
	}
	c, err := p.edit(conf, 0o644, func(old []byte) ([]byte, error) {
		return setTOML(old,
			tomlTable{header: "registries." + sourceName, lines: []string{
				"index = " + tomlString("sparse+"+t.Endpoint), `credential-provider = ["cargo:token"]`}},
			tomlTable{header: "source.crates-io", lines: []string{"replace-with = " + tomlString(sourceName)}})
	})
	if err != nil {
		return nil, err
	}
	cred, err := p.edit(filepath.Join(cargoHome(p), "credentials.toml"), 0o600, func(old []byte) ([]byte, error) {
		return setTOML(old, tomlTable{header: "registries." + sourceName, lines: []string{"token = " + tomlString(t.Token)}})
	})
	return []Edit{c, cred}, err
}
