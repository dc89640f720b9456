package bench

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
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

func TestShape(t *testing.T) {
	r := &Runner{Load: load.Config{Connections: 16, Duration: 10 * time.Second, Warmup: 2 * time.Second, Timeout: 30 * time.Second, Seed: 7}, Rounds: 3}
	for _, tc := range []struct {
		name string
		load *load.Config
		want load.Config
	}{
		{"the command line's", nil, load.Config{Connections: 16, Duration: 10 * time.Second, Warmup: 2 * time.Second, Timeout: 30 * time.Second, Seed: 9}},
		{"a burst keeps -d and -timeout, not the warm-up", &load.Config{Connections: 4, Requests: 4, PerConnection: 1},
			load.Config{Connections: 4, Requests: 4, PerConnection: 1, Duration: 10 * time.Second, Timeout: 30 * time.Second, Seed: 2}},
		{"its own duration and timeout", &load.Config{Connections: 2, Duration: time.Hour, MaxDuration: time.Hour, Timeout: time.Minute, Seed: 5},
			load.Config{Connections: 2, Duration: time.Hour, MaxDuration: time.Hour, Timeout: time.Minute, Seed: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.shape(Target{Load: tc.load}, 2); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("shape = %+v, want %+v", got, tc.want)
			}
		})
	}
}
