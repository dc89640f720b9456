package formats

import (
	"strconv"
	"strings"
	"testing"
)

func TestCompareParsed(t *testing.T) {
	parse := func(s string) (int, bool) { n, err := strconv.Atoi(s); return n, err == nil }
	cmp := func(a, b int) int { return a - b }
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"both parse: cmp decides", "10", "9", 1},
		{"both parse and equal", "7", "7", 0},
		{"unparsable before parsable", "x", "1", -1},
		{"parsable after unparsable", "1", "x", 1},
		{"two unparsable by text", "b", "a", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CompareParsed(tc.a, tc.b, parse, cmp); got != tc.want {
				t.Errorf("CompareParsed(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestComparePrerelease(t *testing.T) {
	digits := func(s string) bool { _, err := strconv.ParseUint(s, 10, 64); return err == nil }
	tests := []struct {
		name string
		a, b []string
		want int
	}{
		{"neither has one", nil, nil, 0},
		{"a release ranks above a pre-release", nil, []string{"rc"}, 1},
		{"a pre-release ranks below a release", []string{"rc"}, nil, -1},
		{"numbers by value", []string{"beta", "10"}, []string{"beta", "9"}, 1},
		{"numbers below text", []string{"1"}, []string{"alpha"}, -1},
		{"text by the text order", []string{"alpha"}, []string{"beta"}, -1},
		{"a longer list above its prefix", []string{"alpha", "1"}, []string{"alpha"}, 1},
		{"equal lists", []string{"rc", "2"}, []string{"rc", "2"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ComparePrerelease(tc.a, tc.b, digits, strings.Compare); got != tc.want {
				t.Errorf("ComparePrerelease(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestCompareDigits(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"shorter is smaller", "9", "10", -1},
		{"same length by digits", "12", "11", 1},
		{"leading zeros ignored", "007", "7", 0},
		{"zeros", "0", "000", 0},
		{"longer than an int64", "100000000000000000000", "99999999999999999999", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CompareDigits(tc.a, tc.b); got != tc.want {
				t.Errorf("CompareDigits(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}
