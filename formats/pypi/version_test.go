package pypi

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizeVersion(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"final", "1.0.0", "1.0.0"},
		{"release candidate", "2.0.0rc1", "2.0.0rc1"},
		{"dash rc", "2.0.0-rc1", "2.0.0rc1"},
		{"alpha spelled out", "1.0alpha2", "1.0a2"},
		{"c is rc", "1.0c1", "1.0rc1"},
		{"pre without number", "1.0b", "1.0b0"},
		{"post dash", "1.0-1", "1.0.post1"},
		{"rev", "1.0rev3", "1.0.post3"},
		{"dev", "1.0.dev", "1.0.dev0"},
		{"epoch", "1!2.0", "1!2.0"},
		{"zero epoch dropped", "0!2.0", "2.0"},
		{"leading zeros", "01.002", "1.2"},
		{"v prefix and case", "V1.0RC1", "1.0rc1"},
		{"local", "1.0+Ubuntu-1", "1.0+ubuntu.1"},
		{"legacy kept", "2004d", "2004d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := normalizeVersion(tt.in); got != tt.want {
				t.Fatalf("normalizeVersion(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSortVersions(t *testing.T) {
	// PEP 440's ordering example, extended.
	want := []string{
		"legacy", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
		"1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1",
		"1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1",
		"2.0.0rc1", "2.0.0", "10.0", "1!0.1",
	}
	got := slices.Clone(want)
	rand.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
	sortVersions(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("sorted (-want +got):\n%s", diff)
	}
	if compareVersions("1.0", "1.0.0") != 0 {
		t.Fatal("1.0 and 1.0.0 should compare equal")
	}
}

func TestIsPrerelease(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{{"1.0", false}, {"2.0.0rc1", true}, {"1.0.dev1", true}, {"1.0.post1", false}, {"legacy", false}}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := isPrerelease(tt.in); got != tt.want {
				t.Fatalf("isPrerelease(%q) = %v", tt.in, got)
			}
		})
	}
}
