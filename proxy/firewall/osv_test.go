package firewall

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"
)

// advisories are OSV documents as the OpenSSF malicious-packages data set
// writes them, and a few that must not block anything.
var advisories = map[string]string{
	"npm/MAL-2025-1.json": `{"id":"MAL-2025-1","summary":"Malicious code in left-pad (npm)","affected":[
		{"package":{"ecosystem":"npm","name":"left-pad"},"versions":["1.1.0"]}]}`,
	"npm/MAL-2025-2.json": `{"id":"MAL-2025-2","summary":"Malicious code in @evil/core (npm)","affected":[
		{"package":{"ecosystem":"npm","name":"@evil/core"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`,
	"pypi/MAL-2025-3.json":  `{"id":"MAL-2025-3","affected":[{"package":{"ecosystem":"PyPI","name":"Stock_Pile.Demo"},"versions":["1.1.0"]}]}`,
	"maven/MAL-2025-4.json": `{"id":"MAL-2025-4","affected":[{"package":{"ecosystem":"Maven","name":"com.example:lib"},"versions":["2.0"]}]}`,
	"nuget/MAL-2025-5.json": `{"id":"MAL-2025-5","affected":[{"package":{"ecosystem":"NuGet","name":"Contoso.Many"},"versions":["1.1.0"]}]}`,
	"ruby/MAL-2025-6.json":  `{"id":"MAL-2025-6","affected":[{"package":{"ecosystem":"RubyGems","name":"rack"},"versions":["3.0.0"]}]}`,
	"cargo/MAL-2025-7.json": `{"id":"MAL-2025-7","affected":[{"package":{"ecosystem":"crates.io","name":"Evil_Crate"}}]}`,
	"npm/withdrawn.json":    `{"id":"MAL-2025-8","withdrawn":"2025-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"fine"},"versions":["1.0.0"]}]}`,
	"npm/fixed-range.json":  `{"id":"MAL-2025-9","affected":[{"package":{"ecosystem":"npm","name":"ranged"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.0.0"}]}]}]}`,
	"go/GO-1.json":          `{"id":"GO-1","affected":[{"package":{"ecosystem":"Go","name":"example.com/x"},"versions":["v1.0.0"]}]}`,
	"README.json":           `not json`,
}

func writeAdvisories(t *testing.T) string {
	t.Helper()
	return writeAdvisoryDir(t, advisories)
}

// writeAdvisoryDir writes each named OSV document of docs below a new
// directory and returns it.
func writeAdvisoryDir(t *testing.T, docs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range docs {
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

func writeAdvisoryZip(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "all.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range advisories {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	f.Close()
	return p
}

// matchCase is one Match query and the ID of the advisory it must find,
// "" for none.
type matchCase struct {
	name                            string
	format, namespace, pkg, version string
	want                            string
}

// checkMatches runs each case as a subtest of t against a.
func checkMatches(t *testing.T, a *Advisories, cases []matchCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got := a.Match(tt.format, tt.namespace, tt.pkg, tt.version)
			if (got == nil && tt.want != "") || (got != nil && got.ID != tt.want) {
				t.Errorf("Match(%s %s %s %s) = %+v, want %q", tt.format, tt.namespace, tt.pkg, tt.version, got, tt.want)
			}
		})
	}
}

func TestLoadOSV(t *testing.T) {
	for _, src := range []struct {
		name string
		path func(*testing.T) string
	}{{"directory", writeAdvisories}, {"zip archive", writeAdvisoryZip}} {
		t.Run(src.name, func(t *testing.T) {
			a, err := LoadOSV(src.path(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if a.Count != 8 || a.UnevaluatedRanges != 1 {
				t.Errorf("loaded %s", a)
			}
			checkMatches(t, a, []matchCase{
				{"npm version", "npm", "", "left-pad", "1.1.0", "MAL-2025-1"},
				{"npm other version", "npm", "", "left-pad", "1.0.0", ""},
				{"npm scoped, whole package", "npm", "evil", "core", "9.9.9", "MAL-2025-2"},
				{"PyPI normalized name", "pypi", "", "stock-pile-demo", "1.1.0", "MAL-2025-3"},
				{"Maven group:artifact", "maven", "com.example", "lib", "2.0", "MAL-2025-4"},
				{"NuGet case-insensitive", "nuget", "", "contoso.many", "1.1.0", "MAL-2025-5"},
				{"RubyGems", "ruby", "", "rack", "3.0.0", "MAL-2025-6"},
				{"crates.io whole package, any case", "cargo", "", "evil_crate", "0.1.0", "MAL-2025-7"},
				{"crates.io - and _ alike", "cargo", "", "evil-crate", "0.1.0", "MAL-2025-7"},
				{"withdrawn advisory", "npm", "", "fine", "1.0.0", ""},
				{"a fixed range is not evaluated", "npm", "", "ranged", "1.0.0", ""},
				{"another ecosystem's package", "npm", "", "example.com/x", "v1.0.0", ""},
			})
		})
	}
	t.Run("a missing path is an error", func(t *testing.T) {
		if _, err := LoadOSV(filepath.Join(t.TempDir(), "nope"), nil); err == nil {
			t.Fatal("loaded a missing path")
		}
	})
	t.Run("nil matches nothing", func(t *testing.T) {
		var a *Advisories
		if a.Match("npm", "", "left-pad", "1.1.0") != nil || a.Any("npm", "", "left-pad") {
			t.Fatal("a nil set matched")
		}
	})
}
