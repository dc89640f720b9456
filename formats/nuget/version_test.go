package nuget

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		name, in            string
		key, full           string
		prerelease, semver2 bool
		wantErr             bool
	}{
		{name: "plain", in: "1.2.3", key: "1.2.3", full: "1.2.3"},
		{name: "leading zeros", in: "1.01.0", key: "1.1.0", full: "1.1.0"},
		{name: "zero fourth part dropped", in: "1.0.0.0", key: "1.0.0", full: "1.0.0"},
		{name: "non-zero fourth part kept", in: "1.0.0.5", key: "1.0.0.5", full: "1.0.0.5"},
		{name: "two parts", in: "1.2", key: "1.2.0", full: "1.2.0"},
		{name: "one part", in: "7", key: "7.0.0", full: "7.0.0"},
		{name: "everything at once", in: "01.02.03.00-Beta.1+Build.7", key: "1.2.3-beta.1", full: "1.2.3-Beta.1+Build.7", prerelease: true, semver2: true},
		{name: "SemVer 1.0 pre-release", in: "2.0.0-RC", key: "2.0.0-rc", full: "2.0.0-RC", prerelease: true},
		{name: "build metadata only", in: "2.0.0+build.7", key: "2.0.0", full: "2.0.0+build.7", semver2: true},
		{name: "surrounding space", in: " 1.0.0 ", key: "1.0.0", full: "1.0.0"},
		{name: "empty", in: "", wantErr: true},
		{name: "five parts", in: "1.0.0.0.0", wantErr: true},
		{name: "letters in a number", in: "1.x.0", wantErr: true},
		{name: "empty part", in: "1..0", wantErr: true},
		{name: "empty label", in: "1.0.0-", wantErr: true},
		{name: "empty identifier", in: "1.0.0-a..b", wantErr: true},
		{name: "bad label character", in: "1.0.0-a_b", wantErr: true},
		{name: "empty metadata", in: "1.0.0+", wantErr: true},
		{name: "too large", in: "99999999999.0.0", wantErr: true},
		{name: "path traversal", in: "../1.0.0", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := parseVersion(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseVersion(%q) = %v, want an error", tc.in, v)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []any{v.Key(), v.Full(), v.Prerelease(), v.SemVer2()}
			want := []any{tc.key, tc.full, tc.prerelease, tc.semver2}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("parseVersion(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestVersionOrder(t *testing.T) {
	// NuGet's documented order, shuffled.
	want := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.0.1", "1.0.1", "1.10.0"}
	in := []string{"1.0.1", "1.0.0-beta.11", "1.0.0", "1.10.0", "1.0.0-alpha.1", "1.0.0.1", "1.0.0-rc.1", "1.0.0-alpha", "1.0.0-beta.2", "1.0.0-beta"}
	vs := make([]version, len(in))
	for i, s := range in {
		v, err := parseVersion(s)
		if err != nil {
			t.Fatal(err)
		}
		vs[i] = v
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].compare(vs[j]) < 0 })
	var got []string
	for _, v := range vs {
		got = append(got, v.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
	tests := []struct {
		name, a, b string
		want       int
	}{
		{"label case ignored", "1.0.0-Beta", "1.0.0-beta", 0},
		{"build metadata ignored", "1.0.0+a", "1.0.0+b", 0},
		{"leading zeros ignored", "1.01.0", "1.1.0.0", 0},
		{"numeric identifiers numerically", "1.0.0-2", "1.0.0-10", -1},
		{"numeric below alphanumeric", "1.0.0-9", "1.0.0-a", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := parseVersion(tc.a)
			b, _ := parseVersion(tc.b)
			if got := a.compare(b); got != tc.want {
				t.Fatalf("compare(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		name, id string
		ok       bool
	}{
		{"dotted, mixed case", "Contoso.Widgets", true},
		{"dashes and underscores", "my-pkg_2", true},
		{"single letter", "a", true},
		{"empty", "", false},
		{"leading dot", ".a", false},
		{"trailing dash", "a-", false},
		{"double dot", "a..b", false},
		{"slash", "a/b", false},
		{"traversal", "..", false},
		{"space", "a b", false},
		{"non-ASCII", "café", false},
		{"too long", string(make([]byte, 101)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := validID(tc.id); (err == nil) != tc.ok {
				t.Fatalf("validID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	got := New().Normalize(formats.Package{Format: "nuget", Namespace: "x", Name: "Contoso.Widgets"})
	if want := (formats.Package{Format: "nuget", Name: "contoso.widgets"}); got != want {
		t.Fatalf("Normalize = %+v, want %+v", got, want)
	}
	for in, want := range map[string]string{"1.01.0.0+build.7": "1.1.0", "2.0.0-Beta": "2.0.0-beta", "not a version": "not a version"} {
		if got := New().NormalizeVersion(formats.Package{Format: "nuget", Name: "x"}, in); got != want {
			t.Errorf("NormalizeVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
