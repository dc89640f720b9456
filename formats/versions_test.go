package formats

import (
	"strconv"
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
