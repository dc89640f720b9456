package rubygems

import (
	"encoding/json"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompareVersions(t *testing.T) {
	// The reference's ascending example (§C.4), shuffled.
	want := []string{"1.0.0.a", "1.0.0.b", "1.0.0.pre.1", "1.0.0.pre.2", "1.0.0.rc1", "1.0", "1.0.0.1", "1.0.1", "1.10"}
	got := []string{"1.10", "1.0.0.rc1", "1.0.1", "1.0.0.a", "1.0", "1.0.0.pre.2", "1.0.0.1", "1.0.0.b", "1.0.0.pre.1"}
	sort.SliceStable(got, func(i, j int) bool { return compareVersions(got[i], got[j]) < 0 })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"trailing zeros are equal", "1.0.0", "1", 0},
		{"numbers compare numerically", "1.9", "1.10", -1},
		{"uppercase before lowercase", "1.0.RC1", "1.0.a", -1},
		{"pre-release before release", "2.0.0.pre", "2.0.0", -1},
		{"big numbers", "1.20240101000000", "1.9", 1},
		{"leading zeros", "1.01", "1.1", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := compareVersions(tc.a, tc.b); got != tc.want {
				t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
			if got := compareVersions(tc.b, tc.a); got != -tc.want {
				t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
			}
		})
	}
}

func TestSplitFullName(t *testing.T) {
	tests := []struct {
		name string
		full string
		want []fileCandidate
	}{
		{"ruby platform", "demo_gem-1.0.0", []fileCandidate{{"demo_gem", "1.0.0"}}},
		{"dash in the name", "rack-lite-2.0.1", []fileCandidate{{"rack-lite", "2.0.1"}}},
		{"platform gem", "rack-lite-2.0.1-x86_64-linux", []fileCandidate{{"rack-lite", "2.0.1-x86_64-linux"}}},
		{"pre-release", "demo_gem-1.1.0.pre.1", []fileCandidate{{"demo_gem", "1.1.0.pre.1"}}},
		{"digit after a dash in the name", "foo-2-1.0.0", []fileCandidate{{"foo-2", "1.0.0"}}},
		{"platform with a version", "foo-1.0.0-universal-darwin-19", []fileCandidate{{"foo", "1.0.0-universal-darwin-19"}, {"foo-1.0.0-universal-darwin", "19"}}},
		{"no version", "foo", nil},
		{"path tricks", "..-1.0.0", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, splitFullName(tc.full), cmp.AllowUnexported(fileCandidate{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckPublishName(t *testing.T) {
	tests := []struct {
		name string
		gem  string
		ok   bool
	}{
		{"underscore", "demo_gem", true},
		{"dash", "rack-lite", true},
		{"dot", "foo.bar", true},
		{"leading dash", "-foo", false},
		{"leading underscore", "_foo", false},
		{"leading period", ".foo", false},
		{"no letter", "123", false},
		{"space", "foo bar", false},
		{"slash", "foo/bar", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkPublishName(tc.gem); (err == nil) != tc.ok {
				t.Errorf("checkPublishName(%q) = %v, want ok %v", tc.gem, err, tc.ok)
			}
		})
	}
}

// platformCases are Gem::Platform.new(string) results of RubyGems 3.3.
var platformCases = []struct {
	in   string
	want platform
}{
	{"x86_64-linux", platform{"x86_64", "linux", ""}},
	{"x86_64-linux-musl", platform{"x86_64", "linux", "musl"}},
	{"x86_64-linux-gnu", platform{"x86_64", "linux", ""}},
	{"aarch64-linux", platform{"aarch64", "linux", ""}},
	{"arm64-darwin", platform{"arm64", "darwin", ""}},
	{"universal-darwin-19", platform{"universal", "darwin", "19"}},
	{"x86_64-darwin22", platform{"x86_64", "darwin", "22"}},
	{"java", platform{"", "java", ""}},
	{"universal-java-11", platform{"universal", "java", "11"}},
	{"x86-mingw32", platform{"x86", "mingw32", ""}},
	{"x64-mingw-ucrt", platform{"x64", "mingw", "ucrt"}},
	{"x86-mswin32-60", platform{"x86", "mswin32", "60"}},
	{"i386-mswin32", platform{"x86", "mswin32", ""}},
	{"mswin32", platform{"x86", "mswin32", ""}},
	{"x86_64-freebsd13", platform{"x86_64", "freebsd", "13"}},
	{"sparc-solaris2.10", platform{"sparc", "solaris", "2.10"}},
	{"x86-openbsd", platform{"x86", "openbsd", ""}},
	{"ppc-aix5", platform{"ppc", "aix", "5"}},
	{"x86-cygwin", platform{"x86", "cygwin", ""}},
	{"amd64-weirdos", platform{"amd64", "unknown", ""}},
}

func TestParsePlatform(t *testing.T) {
	for _, tc := range platformCases {
		t.Run(tc.in, func(t *testing.T) {
			if got := parsePlatform(tc.in); got != tc.want {
				t.Errorf("parsePlatform(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// The table above is RubyGems' own answer.
func TestParsePlatformMatchesRuby(t *testing.T) {
	if _, err := exec.LookPath("ruby"); err != nil {
		t.Skip("ruby not installed")
	}
	var in []string
	for _, tc := range platformCases {
		in = append(in, tc.in)
	}
	out, err := exec.Command("ruby", append([]string{"-rjson", "-e", `puts JSON.dump(ARGV.map { |a| p = Gem::Platform.new(a); [p.cpu.to_s, p.os.to_s, p.version.to_s] })`}, in...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ruby: %v\n%s", err, out)
	}
	var got [][3]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for i, tc := range platformCases {
		if w := ([3]string{tc.want.cpu, tc.want.os, tc.want.version}); got[i] != w {
			t.Errorf("%s: RubyGems says %v, the table %v", tc.in, got[i], w)
		}
	}
}

func TestParseInfo(t *testing.T) {
	// Reference §C.6.1, state 2.
	body := "---\n" +
		"0.9.0 |checksum:3f2a9c1e8b7d6054a1c3e5f7092b4d6e8f0a1b2c3d4e5f60718293a4b5c6d7e8,created_at:2024-01-10T12:00:00Z\n" +
		"1.0.0 rack:< 4&>= 2.0|checksum:7c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccddeeff001122334455,ruby:>= 2.7.0,created_at:2024-02-01T08:30:00Z\n" +
		"1.1.0.pre.1 rack:< 4&>= 2.2,rack-lite:~> 2.0|checksum:0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0,ruby:>= 3.0,rubygems:>= 3.3.0,created_at:2024-03-15T16:45:00Z\n"
	if got := md5hex([]byte(body)); got != "24d015bf03c08757081e9e21c5969049" {
		t.Fatalf("fixture MD5 %s", got)
	}
	tests := []struct {
		name      string
		body      string
		keys      []string
		checksums []string
		clean     bool
	}{
		{"reference state 2", body, []string{"0.9.0", "1.0.0", "1.1.0.pre.1"},
			[]string{"3f2a9c1e8b7d6054a1c3e5f7092b4d6e8f0a1b2c3d4e5f60718293a4b5c6d7e8", "7c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccddeeff001122334455", "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"}, true},
		{"platform lines", "---\n2.0.1 |checksum:x\n2.0.1-java |\n", []string{"2.0.1", "2.0.1-java"}, []string{"", ""}, true},
		{"no header", "1.0.0 |\n", []string{"1.0.0"}, []string{""}, false},
		{"a bad line is skipped", "---\n1.0.0 |\nnot a version\n", []string{"1.0.0"}, []string{""}, false},
		{"duplicates keep the first", "---\n1.0.0 a:1|\n1.0.0 b:1|\n", []string{"1.0.0"}, []string{""}, false},
		{"empty", "---\n", nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entries, clean := parseInfo([]byte(tc.body))
			var keys, sums []string
			for _, e := range entries {
				keys, sums = append(keys, e.key), append(sums, e.checksum)
			}
			if diff := cmp.Diff(tc.keys, keys); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.checksums, sums); diff != "" {
				t.Errorf("checksums (-want +got):\n%s", diff)
			}
			if clean != tc.clean {
				t.Errorf("clean = %v, want %v", clean, tc.clean)
			}
		})
	}
}

func TestMergeVersions(t *testing.T) {
	// Reference §C.6.3 "full": a base and two appended lines.
	up := "created_at: 2024-04-01T00:00:00Z\n---\n" +
		"demo_gem 0.9.0,1.0.0 f4d520e01e364f4783da5a77c7b7e3d7\n" +
		"rack-lite 2.0.0,2.0.1,2.0.1-java 155332be8d1f62ea9fd687c2e95893e8\n" +
		"demo_gem 1.1.0.pre.1 24d015bf03c08757081e9e21c5969049\n" +
		"demo_gem -0.9.0 d6b5a568c7fc90da95ce90843990295d\n"
	if got := reprDigest([]byte(up)); got != "sha-256=:anvVofUj2HT/DHtQNLodAsjpicZ+kSp37cy7joE7O+0=:" {
		t.Fatalf("fixture digest %s", got)
	}
	tests := []struct {
		name  string
		up    string
		local []localGem
		want  string
	}{
		{"upstream only: its bytes", up, nil, up},
		{"local gem identical to the upstream's: its bytes", up,
			[]localGem{{name: "rack-lite", md5: "155332be8d1f62ea9fd687c2e95893e8", keys: []string{"2.0.0", "2.0.1", "2.0.1-java"}}}, up},
		{"local gem with other info: our line first, theirs gone", up,
			[]localGem{{name: "demo_gem", md5: "0123456789abcdef0123456789abcdef", keys: []string{"2.0.0"}}},
			"created_at: 2024-04-01T00:00:00Z\n---\n" +
				"demo_gem 2.0.0 0123456789abcdef0123456789abcdef\n" +
				"rack-lite 2.0.0,2.0.1,2.0.1-java 155332be8d1f62ea9fd687c2e95893e8\n"},
		{"local gem unknown upstream", up,
			[]localGem{{name: "acme", md5: "00000000000000000000000000000000", keys: []string{"1.0.0", "1.0.0-java"}}},
			"created_at: 2024-04-01T00:00:00Z\n---\nacme 1.0.0,1.0.0-java 00000000000000000000000000000000\n" + strings.SplitN(up, "---\n", 2)[1]},
		{"local gem with nothing listed disappears", up,
			[]localGem{{name: "rack-lite", md5: "5a2d3a8b5fa3b1b1ad4ab9e0f64c3e0b"}},
			"created_at: 2024-04-01T00:00:00Z\n---\n" +
				"demo_gem 0.9.0,1.0.0 f4d520e01e364f4783da5a77c7b7e3d7\n" +
				"demo_gem 1.1.0.pre.1 24d015bf03c08757081e9e21c5969049\n" +
				"demo_gem -0.9.0 d6b5a568c7fc90da95ce90843990295d\n"},
		{"upstream without the final newline", strings.TrimSuffix(up, "\n"), nil, up},
		{"no upstream", "",
			[]localGem{{name: "a", md5: "11111111111111111111111111111111", keys: []string{"1.0.0"}}, {name: "b", md5: "22222222222222222222222222222222", keys: []string{"0.1.0", "0.2.0.pre"}}},
			versionsHeader + "a 1.0.0 11111111111111111111111111111111\nb 0.1.0,0.2.0.pre 22222222222222222222222222222222\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var upb []byte
			if tc.up != "" {
				upb = []byte(tc.up)
			}
			if diff := cmp.Diff(tc.want, string(mergeVersions(upb, tc.local))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMergeVersionsKeepsUpstreamAppendsAppends(t *testing.T) {
	base := "created_at: 2024-04-01T00:00:00Z\n---\nrack-lite 2.0.0 aaaa\ndemo_gem 1.0.0 bbbb\n"
	grown := base + "zeta 0.1.0 cccc\ndemo_gem 1.1.0 dddd\n"
	local := []localGem{{name: "demo_gem", md5: "ours", keys: []string{"0.1.0"}}}
	before, after := mergeVersions([]byte(base), local), mergeVersions([]byte(grown), local)
	if !strings.HasPrefix(string(after), string(before)) {
		t.Fatalf("an upstream append is not an append here:\nbefore %q\nafter  %q", before, after)
	}
	if got, want := string(after[len(before):]), "zeta 0.1.0 cccc\n"; got != want {
		t.Errorf("appended %q, want %q", got, want)
	}
}

func TestMergeNames(t *testing.T) {
	got := mergeNames([]byte("---\nrack-lite\ndemo_gem\n"), []localGem{{name: "acme", keys: []string{"1.0.0"}}, {name: "gone"}, {name: "demo_gem", keys: []string{"1"}}})
	if want := "---\nacme\ndemo_gem\nrack-lite\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseGemspec(t *testing.T) {
	// The shape older RubyGems wrote: aliases, !binary, a "none" key, the
	// date without a space before Z, no platform.
	old := `--- !ruby/object:Gem::Specification 
name: old-gem
version: !ruby/object:Gem::Version 
  hash: 1
  prerelease: false
  segments: 
  - 0
  - 1
  version: 0.1.0
date: 2011-08-25 00:00:00Z
summary: !binary |
  U3VtbcOkcnk=
email: 
- a@example.invalid
- b@example.invalid
authors: []
dependencies: 
- !ruby/object:Gem::Dependency 
  name: rack
  prerelease: false
  requirement: &id001 !ruby/object:Gem::Requirement 
    none: false
    requirements: 
    - - ~>
      - !ruby/object:Gem::Version 
        version: "1.2"
  type: :runtime
  version_requirements: *id001
- !ruby/object:Gem::Dependency 
  name: rspec
  requirement: &id002 !ruby/object:Gem::Requirement 
    requirements: 
    - - ">="
      - !ruby/object:Gem::Version 
        version: "0"
  type: :development
  version_requirements: *id002
required_ruby_version: !ruby/object:Gem::Requirement 
  none: false
  requirements: 
  - - ">="
    - !ruby/object:Gem::Version 
      version: 1.8.7
rubygems_version: 1.8.10
specification_version: 3
`
	s, err := parseGemspec([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	got := struct {
		Name, Version, Platform, Date, Summary, Line string
		Email                                        any
		Spec                                         int
	}{s.Name, s.Version, s.Platform, s.Date.Format("2006-01-02"), s.Summary.(string), s.infoLine("00"), s.Email, s.SpecificationVersion}
	want := struct {
		Name, Version, Platform, Date, Summary, Line string
		Email                                        any
		Spec                                         int
	}{"old-gem", "0.1.0", "ruby", "2011-08-25", "Summäry", "0.1.0 rack:~> 1.2|checksum:00,ruby:>= 1.8.7", []string{"a@example.invalid", "b@example.invalid"}, 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := s.quickSpec(); err != nil {
		t.Errorf("quick spec: %v", err)
	}
}
