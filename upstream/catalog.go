package upstream

import "strings"

// Connection is one of CodeArtifact's external connections: its name as
// CodeArtifact spells it, the package format it serves, and the URL the
// ecosystem's own client would be given. DefaultURL is empty when Stockpile
// ships no default and the operator must configure one (public:npmjs).
type Connection struct {
	Name       string
	Format     string
	DefaultURL string
	// FileHosts are the hosts, other than the connection's own, from which
	// the registry documents that it serves files or to which it redirects
	// downloads (allowed_hosts entries: "host", "host:port", "*.domain").
	// Metadata and redirects may send Stockpile only to these and to the
	// connection's own origin.
	FileHosts []string
}

// EnvVar returns the environment variable that may carry the connection's
// URL, as named in configuration error messages: "public:npmjs" gives
// STOCKPILE_NPMJS_URL, "public:maven-central" STOCKPILE_MAVEN_CENTRAL_URL.
// This package does not read the environment itself; the configuration
// loader does.
func (c Connection) EnvVar() string {
	s := strings.TrimPrefix(c.Name, "public:")
	s = strings.NewReplacer("-", "_", ":", "_", ".", "_").Replace(s)
	return "STOCKPILE_" + strings.ToUpper(s) + "_URL"
}

// catalog returns the external connections in CodeArtifact's order. It
// returns an array, so every caller gets its own copy.
func catalog() [10]Connection {
	return [10]Connection{
		{Name: "public:npmjs", Format: "npm"},
		// PyPI's Simple API (PEP 503) links files on its files host.
		{Name: "public:pypi", Format: "pypi", DefaultURL: "https://pypi.org/simple/",
			FileHosts: []string{"files.pythonhosted.org"}},
		{Name: "public:maven-central", Format: "maven", DefaultURL: "https://repo.maven.apache.org/maven2/",
			FileHosts: []string{"repo1.maven.org"}},
		// Google's Maven repository redirects artifact downloads to dl.google.com.
		{Name: "public:maven-googleandroid", Format: "maven", DefaultURL: "https://maven.google.com/",
			FileHosts: []string{"dl.google.com"}},
		// The Gradle plugin portal redirects artifacts to its artifacts host.
		{Name: "public:maven-gradleplugins", Format: "maven", DefaultURL: "https://plugins.gradle.org/m2/",
			FileHosts: []string{"plugins-artifacts.gradle.org"}},
		{Name: "public:maven-commonsware", Format: "maven", DefaultURL: "https://s3.amazonaws.com/repo.commonsware.com/"},
		{Name: "public:maven-clojars", Format: "maven", DefaultURL: "https://repo.clojars.org/"},
		// nuget.org's service index names resources on api.nuget.org, its
		// CDN, and the search service hosts.
		{Name: "public:nuget-org", Format: "nuget", DefaultURL: "https://api.nuget.org/v3/index.json",
			FileHosts: []string{"*.nuget.org"}},
		// rubygems.org serves the compact index on index.rubygems.org.
		{Name: "public:ruby-gems-org", Format: "ruby", DefaultURL: "https://rubygems.org/",
			FileHosts: []string{"index.rubygems.org"}},
		// The crates.io index's config.json names static.crates.io for
		// downloads (and crates.io for its API).
		{Name: "public:crates-io", Format: "cargo", DefaultURL: "https://index.crates.io/",
			FileHosts: []string{"static.crates.io", "crates.io"}},
	}
}

// Catalog returns every external connection, in a fixed order, as a fresh
// slice the caller may modify. It never fails.
func Catalog() []Connection {
	all := catalog()
	return all[:]
}

// Lookup returns the catalog entry called name. The boolean is false, and the
// Connection zero, when no external connection has that name.
func Lookup(name string) (Connection, bool) {
	for _, c := range catalog() {
		if c.Name == name {
			return c, true
		}
	}
	return Connection{}, false
}
