package npm

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
)

func TestParsePath(t *testing.T) {
	util := formats.Package{Format: "npm", Namespace: "acme", Name: "util"}
	lp := formats.Package{Format: "npm", Name: "left-pad-lite"}
	tests := []struct {
		name string
		path string
		want route
		err  error
	}{
		{"unscoped packument", "left-pad-lite", route{kind: routePackument, pkg: lp}, nil},
		{"scoped lower %2f", "@acme%2futil", route{kind: routePackument, pkg: util}, nil},
		{"scoped upper %2F", "@acme%2Futil", route{kind: routePackument, pkg: util}, nil},
		{"scoped slash", "@acme/util", route{kind: routePackument, pkg: util}, nil},
		{"scoped %40", "%40acme%2Futil", route{kind: routePackument, pkg: util}, nil},
		{"legacy mixed case", "JSONStream", route{kind: routePackument, pkg: formats.Package{Format: "npm", Name: "JSONStream"}}, nil},
		{"version", "left-pad-lite/1.0.0", route{kind: routeVersion, pkg: lp, spec: "1.0.0"}, nil},
		{"scoped tag", "@acme%2futil/latest", route{kind: routeVersion, pkg: util, spec: "latest"}, nil},
		{"tarball", "left-pad-lite/-/left-pad-lite-2.0.0-beta.1.tgz", route{kind: routeTarball, pkg: lp, spec: "2.0.0-beta.1", file: "left-pad-lite-2.0.0-beta.1.tgz"}, nil},
		{"scoped tarball slash", "@acme/util/-/util-1.2.0.tgz", route{kind: routeTarball, pkg: util, spec: "1.2.0", file: "util-1.2.0.tgz"}, nil},
		{"scoped tarball %2f", "@acme%2futil/-/util-1.2.0.tgz", route{kind: routeTarball, pkg: util, spec: "1.2.0", file: "util-1.2.0.tgz"}, nil},
		{"scoped tarball full file name", "@acme/util/-/@acme/util-1.2.0.tgz", route{kind: routeTarball, pkg: util, spec: "1.2.0", file: "util-1.2.0.tgz"}, nil},
		{"rev", "left-pad-lite/-rev/3-abc", route{kind: routePackumentRev, pkg: lp, rev: "3-abc"}, nil},
		{"tarball rev", "left-pad-lite/-/left-pad-lite-1.0.0.tgz/-rev/3-abc", route{kind: routeTarballRev, rev: "3-abc"}, nil},
		{"tarball rev with prefix", "acme/npm/internal/@acme/util/-/util-1.0.0.tgz/-rev/3-abc", route{kind: routeTarballRev, rev: "3-abc"}, nil},
		{"ping", "-/ping", route{kind: routePing}, nil},
		{"whoami", "-/whoami", route{kind: routeWhoami}, nil},
		{"search", "-/v1/search", route{kind: routeSearch}, nil},
		{"bulk", "-/npm/v1/security/advisories/bulk", route{kind: routeAudit, spec: "-/npm/v1/security/advisories/bulk"}, nil},
		{"quick", "-/npm/v1/security/audits/quick", route{kind: routeAudit, spec: "-/npm/v1/security/audits/quick"}, nil},
		{"dist-tags", "-/package/@acme%2futil/dist-tags", route{kind: routeDistTags, pkg: util}, nil},
		{"dist-tag slash scope", "-/package/@acme/util/dist-tags/beta", route{kind: routeDistTag, pkg: util, spec: "beta"}, nil},
		{"adduser", "-/user/org.couchdb.user:alice", route{kind: routeUser}, nil},
		{"root", "", route{}, nil},
		{"unknown special", "-/nope", route{}, nil},
		{"deep unknown", "left-pad-lite/a/b", route{kind: routeUnknown, pkg: lp}, nil},
		{"dot dot", "..", route{}, formats.ErrInvalid},
		{"traversal in scope", "@../util", route{}, formats.ErrInvalid},
		{"encoded traversal", "%2e%2e", route{}, formats.ErrInvalid},
		{"control character", "left%0apad", route{}, formats.ErrInvalid},
		{"backslash", "left%5cpad", route{}, formats.ErrInvalid},
		{"bad escape", "left%zzpad", route{}, formats.ErrInvalid},
		{"scope without name", "@acme", route{}, formats.ErrInvalid},
		{"unscoped with encoded slash", "left%2fpad", route{}, formats.ErrInvalid},
		{"space", "left%20pad", route{}, formats.ErrInvalid},
		{"too long", strings.Repeat("a", 215), route{}, formats.ErrInvalid},
		{"tarball of another package", "left-pad-lite/-/other-1.0.0.tgz", route{}, formats.ErrNotFound},
		{"tarball bad version", "left-pad-lite/-/left-pad-lite-..tgz", route{}, formats.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePath(tc.path)
			if !errors.Is(err, tc.err) {
				t.Fatalf("parsePath(%q) error = %v, want %v", tc.path, err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(route{})); diff != "" {
				t.Errorf("parsePath(%q) (-want +got):\n%s", tc.path, diff)
			}
		})
	}
}

func TestParseNameStrict(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		strict bool
		ok     bool
	}{
		{"plain", "left-pad", true, true},
		{"scoped", "@acme/util", true, true},
		{"dots and underscores", "a.b_c", true, true},
		{"upper case on read", "JSONStream", false, true},
		{"upper case on publish", "JSONStream", true, false},
		{"leading dot", ".hidden", false, false},
		{"leading underscore on read", "_private", false, true},
		{"leading underscore on publish", "_private", true, false},
		{"special character on read", "fancy!", false, true},
		{"special character on publish", "fancy!", true, false},
		{"reserved", "node_modules", true, false},
		{"empty scope", "@/util", false, false},
		{"empty", "", false, false},
		{"colon", "a:b", false, false},
		{"max length", strings.Repeat("a", 214), true, true},
		{"over max length", strings.Repeat("a", 215), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseName(tc.in, tc.strict)
			if (err == nil) != tc.ok {
				t.Fatalf("parseName(%q, %v) error = %v, want ok=%v", tc.in, tc.strict, err, tc.ok)
			}
			if err != nil && !errors.Is(err, formats.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestCheckTagAndVersion(t *testing.T) {
	tags := []struct {
		tag string
		ok  bool
	}{
		{"latest", true}, {"beta", true}, {"next-2", true}, {"release_candidate", true},
		{"1.x", false}, {"v2", false}, {"2", false}, {"x", false}, {"*", false},
		{"", false}, {"a/b", false}, {"a b", false}, {strings.Repeat("t", 129), false},
	}
	for _, tc := range tags {
		if err := checkTag(tc.tag); (err == nil) != tc.ok {
			t.Errorf("checkTag(%q) = %v, want ok=%v", tc.tag, err, tc.ok)
		}
	}
	versions := []struct {
		v  string
		ok bool
	}{
		{"1.0.0", true}, {"2.0.0-beta.1", true}, {"1.0.0+build.5", true}, {"v1.0.0", true},
		{"", false}, {".", false}, {"..", false}, {"-1", false}, {"1/2", false}, {"1.0.0 ", false},
		{strings.Repeat("1", 257), false},
	}
	for _, tc := range versions {
		if err := checkVersion(tc.v); (err == nil) != tc.ok {
			t.Errorf("checkVersion(%q) = %v, want ok=%v", tc.v, err, tc.ok)
		}
	}
	strict := []struct {
		v  string
		ok bool
	}{
		{"1.0.0", true}, {"1.0.0-rc.1+b", true}, {"v1.0.0", false}, {"1.0", false}, {"01.0.0", false},
	}
	for _, tc := range strict {
		if got := validSemver(tc.v); got != tc.ok {
			t.Errorf("validSemver(%q) = %v, want %v", tc.v, got, tc.ok)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	in := []string{"2.0.0", "1.10.0", "1.2.0", "2.0.0-beta.1", "2.0.0-beta.10", "2.0.0-beta.2", "2.0.0-alpha", "not-semver", "1.2.0-rc.1"}
	sortVersions(in)
	want := []string{"not-semver", "1.2.0-rc.1", "1.2.0", "1.10.0", "2.0.0-alpha", "2.0.0-beta.1", "2.0.0-beta.2", "2.0.0-beta.10", "2.0.0"}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("sorted (-want +got):\n%s", diff)
	}
	highs := []struct {
		name string
		in   []string
		want string
	}{
		{"stable wins over newer prerelease", []string{"1.0.0", "1.1.0", "2.0.0-beta.1"}, "1.1.0"},
		{"only prereleases", []string{"1.0.0-a", "1.0.0-b"}, "1.0.0-b"},
		{"none", nil, ""},
	}
	for _, tc := range highs {
		t.Run(tc.name, func(t *testing.T) {
			s := append([]string(nil), tc.in...)
			sortVersions(s)
			if got := highest(s); got != tc.want {
				t.Errorf("highest(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWantsCorgi(t *testing.T) {
	tests := []struct {
		name   string
		accept []string
		want   bool
	}{
		{"missing", nil, false},
		{"json", []string{"application/json"}, false},
		{"pacote corgi", []string{"application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"}, true},
		{"corgi only", []string{"application/vnd.npm.install-v1+json"}, true},
		{"corgi lower than json", []string{"application/vnd.npm.install-v1+json; q=0.5, application/json"}, false},
		{"corgi equal to json", []string{"application/json;q=0.9, application/vnd.npm.install-v1+json;q=0.9"}, true},
		{"corgi q=0", []string{"application/vnd.npm.install-v1+json;q=0, application/json;q=0.1"}, false},
		{"corgi above wildcard", []string{"*/*;q=0.5, application/vnd.npm.install-v1+json"}, true},
		{"specific json beats wildcard", []string{"*/*, application/json;q=0.2, application/vnd.npm.install-v1+json;q=0.5"}, true},
		{"any", []string{"*/*"}, false},
		{"case and spaces", []string{" Application/VND.npm.install-v1+json ; Q=1"}, true},
		{"two headers", []string{"application/json;q=0.1", "application/vnd.npm.install-v1+json"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := wantsCorgi(tc.accept); got != tc.want {
				t.Errorf("wantsCorgi(%q) = %v, want %v", tc.accept, got, tc.want)
			}
		})
	}
	t.Run("allocates nothing", func(t *testing.T) {
		accept := []string{"application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"}
		if n := testing.AllocsPerRun(100, func() { wantsCorgi(accept) }); n != 0 {
			t.Errorf("wantsCorgi allocates %v times per call", n)
		}
	})
}
