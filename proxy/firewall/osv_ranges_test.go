package firewall

import (
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/cargo"
	"github.com/stockpile-proxy/stockpile/formats/maven"
	"github.com/stockpile-proxy/stockpile/formats/npm"
	"github.com/stockpile-proxy/stockpile/formats/nuget"
	"github.com/stockpile-proxy/stockpile/formats/pypi"
	"github.com/stockpile-proxy/stockpile/formats/rubygems"
)

// formatOrders are the six formats' own version orders, as the server passes
// them.
func formatOrders() Orders {
	o := Orders{}
	for _, f := range []interface {
		formats.VersionOrderer
		Name() string
	}{npm.New(), pypi.New(), maven.New(), nuget.New(), rubygems.New(), cargo.New()} {
		o[f.Name()] = f.CompareVersions
	}
	return o
}

// rangeAdvisories are OSV documents whose affected versions are given as
// SEMVER and ECOSYSTEM ranges.
var rangeAdvisories = map[string]string{
	"npm.json": `{"id":"MAL-R-1","affected":[{"package":{"ecosystem":"npm","name":"ranged"},"ranges":[
		{"type":"SEMVER","events":[{"introduced":"1.2.0"},{"fixed":"1.4.0"},{"introduced":"2.0.0-beta.1"},{"last_affected":"2.1.0"}]}]}]}`,
	"pypi.json": `{"id":"MAL-R-2","affected":[{"package":{"ecosystem":"PyPI","name":"Py_Ranged"},"ranges":[
		{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}]}]}`,
	"maven.json": `{"id":"MAL-R-3","affected":[{"package":{"ecosystem":"Maven","name":"com.example:ranged"},"ranges":[
		{"type":"ECOSYSTEM","events":[{"introduced":"1.0-alpha-1"},{"fixed":"1.0"}]}]}]}`,
	"nuget.json": `{"id":"MAL-R-4","affected":[{"package":{"ecosystem":"NuGet","name":"Contoso.Ranged"},"ranges":[
		{"type":"ECOSYSTEM","events":[{"introduced":"1.0.0"},{"last_affected":"1.0.0.5"}]}]}]}`,
	"ruby.json": `{"id":"MAL-R-5","affected":[{"package":{"ecosystem":"RubyGems","name":"ranged"},"ranges":[
		{"type":"ECOSYSTEM","events":[{"introduced":"1.0.a"},{"fixed":"1.0"}]}]}]}`,
	"cargo.json": `{"id":"MAL-R-6","affected":[{"package":{"ecosystem":"crates.io","name":"ranged"},"ranges":[
		{"type":"SEMVER","events":[{"introduced":"0.3.0"},{"limit":"0.3.5"}]}]}]}`,
	"git.json": `{"id":"MAL-R-7","affected":[{"package":{"ecosystem":"npm","name":"gitonly"},"ranges":[
		{"type":"GIT","repo":"https://example.com/x","events":[{"introduced":"abc"},{"fixed":"def"}]}]}]}`,
}

// TestOSVRanges: SEMVER and ECOSYSTEM ranges (introduced, fixed,
// last_affected, limit; several intervals in one range) are evaluated in
// each format's own version order: pre-releases, PEP 440's rc, Maven's
// qualifiers, NuGet's fourth part, RubyGems' letters.
func TestOSVRanges(t *testing.T) {
	dir := writeAdvisoryDir(t, rangeAdvisories)
	a, err := LoadOSV(dir, formatOrders())
	if err != nil {
		t.Fatal(err)
	}
	if a.UnevaluatedRanges != 1 {
		t.Errorf("loaded %s, want the GIT range alone unevaluated", a)
	}
	checkMatches(t, a, []matchCase{
		{"npm below introduced", "npm", "", "ranged", "1.1.9", ""},
		{"npm at introduced", "npm", "", "ranged", "1.2.0", "MAL-R-1"},
		{"npm inside", "npm", "", "ranged", "1.3.7", "MAL-R-1"},
		{"npm at fixed", "npm", "", "ranged", "1.4.0", ""},
		{"npm between the intervals", "npm", "", "ranged", "1.9.0", ""},
		{"npm pre-release of the second interval", "npm", "", "ranged", "2.0.0-beta.2", "MAL-R-1"},
		{"npm pre-release before introduced", "npm", "", "ranged", "2.0.0-alpha.1", ""},
		{"npm at last_affected", "npm", "", "ranged", "2.1.0", "MAL-R-1"},
		{"npm after last_affected", "npm", "", "ranged", "2.1.1", ""},
		{"PyPI from 0, rc before fixed", "pypi", "", "py-ranged", "1.0rc1", "MAL-R-2"},
		{"PyPI at fixed spelled 1.0.0", "pypi", "", "py-ranged", "1.0.0", ""},
		{"PyPI post-release after fixed", "pypi", "", "py-ranged", "1.0.post1", ""},
		{"Maven qualifier inside", "maven", "com.example", "ranged", "1.0-beta-2", "MAL-R-3"},
		{"Maven release at fixed", "maven", "com.example", "ranged", "1.0", ""},
		{"Maven snapshot of the fix", "maven", "com.example", "ranged", "1.0-SNAPSHOT", "MAL-R-3"},
		{"NuGet fourth part at last_affected", "nuget", "", "contoso.ranged", "1.0.0.5", "MAL-R-4"},
		{"NuGet fourth part after", "nuget", "", "contoso.ranged", "1.0.0.6", ""},
		{"NuGet pre-release before introduced", "nuget", "", "contoso.ranged", "1.0.0-rc.1", ""},
		{"RubyGems letter pre-release inside", "ruby", "", "ranged", "1.0.pre.1", "MAL-R-5"},
		{"RubyGems release at fixed", "ruby", "", "ranged", "1.0.0", ""},
		{"crates.io below limit", "cargo", "", "ranged", "0.3.4", "MAL-R-6"},
		{"crates.io at limit", "cargo", "", "ranged", "0.3.5", ""},
		{"GIT ranges block nothing", "npm", "", "gitonly", "1.0.0", ""},
	})
	t.Run("without a format's order its ranges are counted, not used", func(t *testing.T) {
		b, err := LoadOSV(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b.UnevaluatedRanges != len(rangeAdvisories) || b.Match("npm", "", "ranged", "1.3.7") != nil {
			t.Errorf("loaded %s", b)
		}
	})
}
