package maven

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The expectations below are what Maven 3.8.7's own ComparableVersion
// prints (java -cp maven-artifact-3.8.7.jar
// org.apache.maven.artifact.versioning.ComparableVersion V1 V2 ...).
var canonicalForms = []struct{ version, canonical string }{
	{"1", "1"},
	{"1.0", "1"},
	{"1.0.0", "1"},
	{"1-0", "1"},
	{"1.0-0", "1"},
	{"1.0-alpha-1", "1-alpha-1"},
	{"1.0-beta", "1-beta"},
	{"1.0-RC1", "1-rc-1"},
	{"1.0-cr1", "1-rc-1"},
	{"1.0-SNAPSHOT", "1-snapshot"},
	{"1.0", "1"},
	{"1.0-ga", "1"},
	{"1.0-final", "1"},
	{"1.0-release", "1"},
	{"1.0-sp1", "1-sp-1"},
	{"1.0.1", "1.0.1"},
	{"1.2", "1.2"},
	{"1.10", "1.10"},
	{"1.0.RC2", "1-rc-2"},
	{"1.0-RC3", "1-rc-3"},
	{"1-1", "1-1"},
	{"1.1", "1.1"},
	{"1.0.0.x1", "1-x-1"},
	{"1.0.0-x2", "1-x-2"},
	{"1a1", "1-alpha-1"},
	{"1b2", "1-beta-2"},
	{"1m3", "1-milestone-3"},
	{"2.0.0-RC1", "2-rc-1"},
	{"1.10.0", "1.10"},
	{"1.2.0", "1.2"},
	{"debian", "debian"},
	{"2.x", "2-x"},
	{"3.x", "3-x"},
	{"1.0-xyz", "1-xyz"},
	{"1.0-abc", "1-abc"},
	{"1.0-foo-bar", "1-foo-bar"},
	{"1.0.0.0.0.1", "1.0.0.0.0.1"},
	{"1.0-1-1", "1-1-1"},
	{"0.9", "0.9"},
	{"2.0-alpha", "2-alpha"},
	{"2.0.a", "2-a"},
	{"2.0.a1", "2-alpha-1"},
	{"1.0-M1", "1-milestone-1"},
	{"1.0-m-1", "1-m-1"},
	{"01.002", "1.2"},
	{"1.0-SP", "1-sp"},
	{"1.0-dev", "1-dev"},
	{"10000000000", "10000000000"},
	{"9999999999", "9999999999"},
	{"1.0-20240502.141207-3", "1-20240502.141207-3"},
	{"1.0-alpha1-SNAPSHOT", "1-alpha-1-snapshot"},
	{"1.0-ALPHA1", "1-alpha-1"},
	{"1..1", "1.0.1"},
	{"1.-1", "1-1"},
	{"1.0--", "1"},
	{"3.0.0-M5", "3-milestone-5"},
	{"2.0.0-beta-1", "2-beta-1"},
}

var versionComparisons = []struct{ a, op, b string }{
	{"1", "==", "1.0"},
	{"1.0", "==", "1.0.0"},
	{"1.0.0", "==", "1-0"},
	{"1-0", "==", "1.0-0"},
	{"1.0-0", ">", "1.0-alpha-1"},
	{"1.0-alpha-1", "<", "1.0-beta"},
	{"1.0-beta", "<", "1.0-RC1"},
	{"1.0-RC1", "==", "1.0-cr1"},
	{"1.0-cr1", "<", "1.0-SNAPSHOT"},
	{"1.0-SNAPSHOT", "<", "1.0"},
	{"1.0", "==", "1.0-ga"},
	{"1.0-ga", "==", "1.0-final"},
	{"1.0-final", "==", "1.0-release"},
	{"1.0-release", "<", "1.0-sp1"},
	{"1.0-sp1", "<", "1.0.1"},
	{"1.0.1", "<", "1.2"},
	{"1.2", "<", "1.10"},
	{"1.10", ">", "1.0.RC2"},
	{"1.0.RC2", "<", "1.0-RC3"},
	{"1.0-RC3", "<", "1-1"},
	{"1-1", "<", "1.1"},
	{"1.1", ">", "1.0.0.x1"},
	{"1.0.0.x1", "<", "1.0.0-x2"},
	{"1.0.0-x2", ">", "1a1"},
	{"1a1", "<", "1b2"},
	{"1b2", "<", "1m3"},
	{"1m3", "<", "2.0.0-RC1"},
	{"2.0.0-RC1", ">", "1.10.0"},
	{"1.10.0", ">", "1.2.0"},
	{"1.2.0", ">", "debian"},
	{"debian", "<", "2.x"},
	{"2.x", "<", "3.x"},
	{"3.x", ">", "1.0-xyz"},
	{"1.0-xyz", ">", "1.0-abc"},
	{"1.0-abc", "<", "1.0-foo-bar"},
	{"1.0-foo-bar", "<", "1.0.0.0.0.1"},
	{"1.0.0.0.0.1", ">", "1.0-1-1"},
	{"1.0-1-1", ">", "0.9"},
	{"0.9", "<", "2.0-alpha"},
	{"2.0-alpha", "<", "2.0.a"},
	{"2.0.a", ">", "2.0.a1"},
	{"2.0.a1", ">", "1.0-M1"},
	{"1.0-M1", "<", "1.0-m-1"},
	{"1.0-m-1", "<", "01.002"},
	{"01.002", ">", "1.0-SP"},
	{"1.0-SP", "<", "1.0-dev"},
	{"1.0-dev", "<", "10000000000"},
	{"10000000000", ">", "9999999999"},
	{"9999999999", ">", "1.0-20240502.141207-3"},
	{"1.0-20240502.141207-3", ">", "1.0-alpha1-SNAPSHOT"},
	{"1.0-alpha1-SNAPSHOT", "<", "1.0-ALPHA1"},
	{"1.0-ALPHA1", "<", "1..1"},
	{"1..1", ">", "1.-1"},
	{"1.-1", ">", "1.0--"},
	{"1.0--", "<", "3.0.0-M5"},
	{"3.0.0-M5", ">", "2.0.0-beta-1"},
}

func TestComparableVersionCanonical(t *testing.T) {
	for _, tc := range canonicalForms {
		t.Run(tc.version, func(t *testing.T) {
			if got := parseVersion(tc.version).canonical(); got != tc.canonical {
				t.Fatalf("canonical(%q) = %q, want %q", tc.version, got, tc.canonical)
			}
		})
	}
}

func TestComparableVersionOrder(t *testing.T) {
	for _, tc := range versionComparisons {
		t.Run(tc.a+" "+tc.op+" "+tc.b, func(t *testing.T) {
			want := map[string]int{"<": -1, "==": 0, ">": 1}[tc.op]
			if got := sign(CompareVersions(tc.a, tc.b)); got != want {
				t.Fatalf("compare(%q, %q) = %d, want %d", tc.a, tc.b, got, want)
			}
			if got := sign(CompareVersions(tc.b, tc.a)); got != -want {
				t.Fatalf("compare(%q, %q) = %d, want %d", tc.b, tc.a, got, -want)
			}
		})
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestSortVersions(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"reference sample", []string{"1.10", "1.0", "1.0-sp1", "1.2", "1.0-SNAPSHOT", "1.0.1", "1.0-RC1", "1.0-beta", "1.0-alpha-1"},
			[]string{"1.0-alpha-1", "1.0-beta", "1.0-RC1", "1.0-SNAPSHOT", "1.0", "1.0-sp1", "1.0.1", "1.2", "1.10"}},
		{"numeric not lexical", []string{"1.10.0", "2.0.0-RC1", "1.2.0"}, []string{"1.2.0", "1.10.0", "2.0.0-RC1"}},
		{"equal versions keep a lexical order", []string{"1.0.0", "1", "1.0"}, []string{"1", "1.0", "1.0.0"}},
		{"dot qualifier below dash qualifier below number", []string{"1.0.1", "1.0-RC3", "1.0.RC2"}, []string{"1.0.RC2", "1.0-RC3", "1.0.1"}},
		{"debian placeholders", []string{"3.x", "debian", "2.x", "1.0"}, []string{"debian", "1.0", "2.x", "3.x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := append([]string(nil), tc.in...)
			sortVersions(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}
