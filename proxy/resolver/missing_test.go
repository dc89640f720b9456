package resolver

import (
	"strconv"
	"testing"
	"time"
)

func TestMissingDocs(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name string
		run  func(t *testing.T, m *missingDocs) (string, time.Time)
		want bool
	}{
		{"remembered", func(t *testing.T, m *missingDocs) (string, time.Time) {
			m.add("k", t0.Add(time.Minute), t0)
			return "k", t0.Add(59 * time.Second)
		}, true},
		{"expired", func(t *testing.T, m *missingDocs) (string, time.Time) {
			m.add("k", t0.Add(time.Minute), t0)
			return "k", t0.Add(time.Minute)
		}, false},
		{"forgotten", func(t *testing.T, m *missingDocs) (string, time.Time) {
			m.add("k", t0.Add(time.Minute), t0)
			m.forget("k")
			return "k", t0
		}, false},
		{"never added", func(*testing.T, *missingDocs) (string, time.Time) { return "k", t0 }, false},
		{"full of expired entries: they go, the live one stays", func(t *testing.T, m *missingDocs) (string, time.Time) {
			m.add("live", t0.Add(time.Hour), t0)
			for i := range maxMissing - 1 {
				m.add(strconv.Itoa(i), t0.Add(time.Second), t0)
			}
			// Full now: the next add, a minute on, drops the expired ones.
			m.add("new", t0.Add(time.Hour), t0.Add(time.Minute))
			if m.until.len() != 2 {
				t.Errorf("%d entries after pruning, want 2", m.until.len())
			}
			return "live", t0.Add(time.Minute)
		}, true},
		{"full of live entries: bounded", func(t *testing.T, m *missingDocs) (string, time.Time) {
			for i := range maxMissing + 10 {
				m.add(strconv.Itoa(i), t0.Add(time.Hour), t0)
			}
			if m.until.len() > maxMissing {
				t.Errorf("%d entries, want at most %d", m.until.len(), maxMissing)
			}
			return strconv.Itoa(maxMissing + 9), t0
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMissingDocs()
			key, at := tt.run(t, m)
			if _, got := m.get(key, at); got != tt.want {
				t.Errorf("get(%q) = %v, want %v", key, got, tt.want)
			}
		})
	}
}
