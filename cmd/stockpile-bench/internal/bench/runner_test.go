package bench

import (
	"slices"
	"testing"
)

func TestRoundOrder(t *testing.T) {
	a, b, c := &TargetReport{Target: Target{Name: "a"}}, &TargetReport{Target: Target{Name: "b"}}, &TargetReport{Target: Target{Name: "c"}}
	targets := []*TargetReport{a, b, c}
	for _, tc := range []struct {
		name  string
		round int
		want  []string
	}{
		{"first round as given", 1, []string{"a", "b", "c"}},
		{"second round reversed", 2, []string{"c", "b", "a"}},
		{"third round as given", 3, []string{"a", "b", "c"}},
		{"fourth round reversed", 4, []string{"c", "b", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, tr := range roundOrder(targets, tc.round) {
				got = append(got, tr.Target.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("round %d: %v, want %v", tc.round, got, tc.want)
			}
		})
	}
	if targets[0] != a || targets[2] != c {
		t.Error("roundOrder reordered the report's own targets")
	}
}
