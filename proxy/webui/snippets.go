package webui

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/stockpile-proxy/stockpile/formats"
)

// snippet is how one client installs a version from this repository.
type snippet struct{ Client, Code string }

// snippets returns the install commands and configuration of every client
// of p's format, pointing at base (the repository's endpoint for the
// format, ending in '/'). display is the package's name as its clients spell
// it. Each form follows the client's own documentation: npm's --registry,
// pip's and uv's --index-url to a PEP 503 simple index, Poetry's source add,
// Maven's <dependency> and Gradle's maven { url }, dotnet add package
// --source and NuGet's -Source with a v3 service index, gem's --source and
// Bundler's Gemfile source, Cargo's sparse registries.
func snippets(p formats.Package, display, version, base string) []snippet {
	at := func(sep string) string {
		if version == "" {
			return ""
		}
		return sep + version
	}
	switch p.Format {
	case "npm":
		return []snippet{
			{"npm", fmt.Sprintf("npm install %s%s --registry %s", display, at("@"), base)},
			{"pnpm", fmt.Sprintf("pnpm add %s%s --registry %s", display, at("@"), base)},
			{"yarn", fmt.Sprintf("yarn add %s%s --registry %s", display, at("@"), base)},
			{".npmrc", fmt.Sprintf("registry=%s\n%s:_authToken=${CODEARTIFACT_AUTH_TOKEN}", base, strings.TrimPrefix(strings.TrimPrefix(base, "https:"), "http:"))},
		}
	case "pypi":
		index := withAuth(base, "aws:${CODEARTIFACT_AUTH_TOKEN}") + "simple/"
		return []snippet{
			{"pip", fmt.Sprintf("pip install --index-url %s %s%s", index, display, at("=="))},
			{"uv", fmt.Sprintf("uv pip install --index-url %s %s%s", index, display, at("=="))},
			{"poetry", fmt.Sprintf("poetry source add --priority=primary stockpile %ssimple/\npoetry config http-basic.stockpile aws \"$CODEARTIFACT_AUTH_TOKEN\"\npoetry add %s%s", base, display, at("=="))},
		}
	case "maven":
		v := version
		if v == "" {
			v = "VERSION"
		}
		return []snippet{
			{"Maven (pom.xml)", fmt.Sprintf("<repositories>\n  <repository><id>stockpile</id><url>%s</url></repository>\n</repositories>\n<dependency>\n  <groupId>%s</groupId>\n  <artifactId>%s</artifactId>\n  <version>%s</version>\n</dependency>", base, p.Namespace, p.Name, v)},
			{"Gradle (Kotlin)", fmt.Sprintf("repositories {\n    maven {\n        url = uri(\"%s\")\n        credentials { username = \"aws\"; password = System.getenv(\"CODEARTIFACT_AUTH_TOKEN\") }\n    }\n}\ndependencies { implementation(\"%s:%s:%s\") }", base, p.Namespace, p.Name, v)},
		}
	case "nuget":
		index := base + "v3/index.json"
		return []snippet{
			{"dotnet", fmt.Sprintf("dotnet nuget add source %s --name stockpile --username aws --password \"$CODEARTIFACT_AUTH_TOKEN\" --store-password-in-clear-text\ndotnet add package %s%s --source stockpile", index, display, at(" --version "))},
			{"NuGet", fmt.Sprintf("nuget install %s%s -Source %s", display, at(" -Version "), index)},
		}
	case "ruby":
		return []snippet{
			{"gem", fmt.Sprintf("gem install %s%s --clear-sources --source %s", display, at(" -v "), withAuth(base, "aws:${CODEARTIFACT_AUTH_TOKEN}"))},
			{"Bundler (Gemfile)", fmt.Sprintf("source %q\ngem %q%s", base, display, quoted(version))},
		}
	case "cargo":
		return []snippet{
			{"cargo (.cargo/config.toml)", fmt.Sprintf("[registries.stockpile]\nindex = \"sparse+%s\"\ncredential-provider = [\"cargo:token\"]", base)},
			{"cargo", fmt.Sprintf("CARGO_REGISTRIES_STOCKPILE_TOKEN=\"$CODEARTIFACT_AUTH_TOKEN\" cargo add %s%s --registry stockpile", display, at("@"))},
		}
	}
	return nil
}

func quoted(version string) string {
	if version == "" {
		return ""
	}
	return fmt.Sprintf(", %q", version)
}

// withAuth puts user information in a URL (pip and gem read credentials
// from it).
func withAuth(base, userinfo string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	return u.Scheme + "://" + userinfo + "@" + u.Host + u.Path
}
