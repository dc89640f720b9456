package rubygems

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// Golden bytes are Ruby 3.1's own Marshal.dump of the same values.
func TestMarshalGolden(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{
			name: "integers of every w_long size",
			v:    []any{0, 5, 122, 123, 255, 256, -1, -123, -124, -256, 65536, -65537, (1 << 30) - 1},
			want: "\x04\b[\x12i\x00i\ni\x7Fi\x01{i\x01\xFFi\x02\x00\x01i\xFAi\x80i\xFF\x84i\xFF\x00i\x03\x00\x00\x01i\xFD\xFF\xFF\xFEi\x04\xFF\xFF\xFF?",
		},
		{
			name: "nil, booleans, strings, symbol links, hash, Gem::Version",
			v:    []any{nil, true, false, "a", "a", rsym("sym"), rsym("sym"), &rhash{keys: []any{"k"}, vals: []any{"v"}}, gemVersion("1.0.0"), gemVersion("2")},
			want: "\x04\b[\x0F0TFI\"\x06a\x06:\x06ETI\"\x06a\x06;\x00T:\bsym;\x06{\x06I\"\x06k\x06;\x00TI\"\x06v\x06;\x00TU:\x11Gem::Version[\x06I\"\n1.0.0\x06;\x00TU;\a[\x06I\"\x062\x06;\x00T",
		},
		{
			name: "Time",
			v:    rubyTime(time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)),
			want: "\x04\bIu:\tTime\r@\x01\x1F\xC0\x00\x00\x00\x00\x06:\tzoneI\"\bUTC\x06:\x06EF",
		},
		{
			name: "Gem::Requirement",
			v:    gemRequirement([]requirement{{">=", "2.0"}, {"<", "4"}}),
			want: "\x04\bU:\x15Gem::Requirement[\x06[\a[\aI\"\a>=\x06:\x06ETU:\x11Gem::Version[\x06I\"\b2.0\x06;\x06T[\aI\"\x06<\x06;\x06TU;\a[\x06I\"\x064\x06;\x06T",
		},
		{
			name: "one object twice is a link",
			v:    []any{"x", rlabel{"p", "ruby"}, []any{"y"}, rref("p")},
			want: "\x04\b[\tI\"\x06x\x06:\x06ETI\"\truby\x06;\x00T[\x06I\"\x06y\x06;\x00T@\a",
		},
		{
			name: "Gem::Platform",
			v:    robject{class: "Gem::Platform", ivars: []string{"@cpu", "@os", "@version"}, vals: []any{"x86_64", "linux", nil}},
			want: "\x04\bo:\x12Gem::Platform\b:\t@cpuI\"\vx86_64\x06:\x06ET:\b@osI\"\nlinux\x06;\aT:\r@version0",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func inflate(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := formattest.Inflate(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The quick gemspec Stockpile writes for a pushed gem is byte for byte
// what Ruby's Marshal.dump writes for the gem's specification, and Ruby
// loads it.
func TestQuickSpecMatchesRuby(t *testing.T) {
	gems := fixtures(t)
	for _, g := range gems {
		t.Run(g.file, func(t *testing.T) {
			spec, err := readGem(bytes.NewReader(g.body), DefaultMaxMetadataSize)
			if err != nil {
				t.Fatal(err)
			}
			quick, err := spec.quickSpec()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := inflate(t, quick), inflate(t, g.quick); !bytes.Equal(got, want) {
				t.Errorf("Marshal of %s differs from Ruby's:\ngot  %q\nwant %q", g.file, got, want)
			}
		})
	}
	// Load one with the command line of the brief, and the whole set with a
	// field-by-field comparison against the .gem's own specification.
	dir := t.TempDir()
	var args []string
	for _, g := range gems {
		spec, err := readGem(bytes.NewReader(g.body), DefaultMaxMetadataSize)
		if err != nil {
			t.Fatal(err)
		}
		quick, _ := spec.quickSpec()
		rz := filepath.Join(dir, strings.TrimSuffix(g.file, ".gem")+".gemspec.rz")
		gem := filepath.Join(dir, g.file)
		os.WriteFile(rz, quick, 0o644)
		os.WriteFile(gem, g.body, 0o644)
		args = append(args, rz, gem)
	}
	out, err := exec.Command("ruby", "-rzlib", "-e", "p Marshal.load(Zlib::Inflate.inflate(File.binread(ARGV[0])))", args[0]).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Gem::Specification") {
		t.Fatalf("ruby cannot load %s: %v\n%s", args[0], err, out)
	}
	const compare = `
require "zlib"; require "rubygems/package"
ARGV.each_slice(2) do |rz, gem|
  ours = Marshal.load(Zlib::Inflate.inflate(File.binread(rz)))
  real = Gem::Package.new(gem).spec
  %i[name version platform original_platform summary authors metadata homepage date
     dependencies required_ruby_version required_rubygems_version full_name].each do |f|
    a, b = ours.send(f), real.send(f)
    abort "#{rz}: #{f}: #{a.inspect} != #{b.inspect}" unless a == b
  end
  abort "#{rz}: platform does not match this machine" if ours.platform != "ruby" && !Gem::Platform.match_spec?(ours) && Gem::Platform.local.os == "linux"
end
puts "ok"
`
	out, err = exec.Command("ruby", append([]string{"-e", compare}, args...)...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("ruby comparison: %v\n%s", err, out)
	}
}

// The info line Stockpile writes for a pushed gem is the line rubygems.org
// writes (as the fixture script computes it).
func TestInfoLineMatchesRubygemsOrg(t *testing.T) {
	for _, g := range fixtures(t) {
		t.Run(g.file, func(t *testing.T) {
			spec, err := readGem(bytes.NewReader(g.body), DefaultMaxMetadataSize)
			if err != nil {
				t.Fatal(err)
			}
			want, _, _ := strings.Cut(g.line, ",created_at:")
			if got := spec.infoLine(g.sha); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// The legacy indexes load in Ruby as the arrays gem expects.
func TestLegacySpecsLoadInRuby(t *testing.T) {
	proxytest.RequireTool(t, "ruby")
	index := map[string][]string{
		"demo_gem":  {"0.9.0", "1.0.0", "1.1.0.pre.1"},
		"rack-lite": {"2.0.0", "2.0.1", "2.0.1-x86_64-linux", "2.0.10"},
	}
	tests := []struct {
		kind string
		want string
	}{
		{specsAll, `[["demo_gem", "0.9.0", "ruby"], ["demo_gem", "1.0.0", "ruby"], ["rack-lite", "2.0.0", "ruby"], ["rack-lite", "2.0.1", "ruby"], ["rack-lite", "2.0.1", "x86_64-linux"], ["rack-lite", "2.0.10", "ruby"]]`},
		{specsLatest, `[["demo_gem", "1.0.0", "ruby"], ["rack-lite", "2.0.10", "ruby"], ["rack-lite", "2.0.1", "x86_64-linux"]]`},
		{specsPrerelease, `[["demo_gem", "1.1.0.pre.1", "ruby"]]`},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			gz, err := buildSpecs(index, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), tc.kind)
			os.WriteFile(path, gz, 0o644)
			out, err := exec.Command("ruby", "-rzlib", "-e",
				`p Marshal.load(Zlib::GzipReader.open(ARGV[0], &:read)).map { |n, v, p| raise "not a Gem::Version" unless v.is_a?(Gem::Version); [n, v.to_s, p] }`, path).CombinedOutput()
			if err != nil {
				t.Fatalf("ruby: %v\n%s", err, out)
			}
			if diff := cmp.Diff(tc.want, strings.TrimSpace(string(out))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
