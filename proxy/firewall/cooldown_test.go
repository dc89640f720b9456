package firewall

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	week := Duration(7 * 24 * time.Hour)
	tests := []struct {
		name      string
		c         Cooldown
		published time.Time
		want      Decision
	}{
		{"off when min_age is zero", Cooldown{Mode: ModeDeny, MissingTime: MissingDeny}, now, Decision{}},
		{"a day-old version is held (hide)", Cooldown{MinAge: week}, now.Add(-24 * time.Hour),
			Decision{Held: true, Published: now.Add(-24 * time.Hour), Until: now.Add(6 * 24 * time.Hour)}},
		{"a day-old version is denied (deny)", Cooldown{MinAge: week, Mode: ModeDeny}, now.Add(-24 * time.Hour),
			Decision{Held: true, Deny: true, Published: now.Add(-24 * time.Hour), Until: now.Add(6 * 24 * time.Hour)}},
		{"a 60-day-old version passes", Cooldown{MinAge: week, Mode: ModeDeny}, now.Add(-60 * 24 * time.Hour),
			Decision{Published: now.Add(-60 * 24 * time.Hour)}},
		{"exactly min_age old passes", Cooldown{MinAge: week}, now.Add(-7 * 24 * time.Hour),
			Decision{Published: now.Add(-7 * 24 * time.Hour)}},
		{"a nanosecond short is held", Cooldown{MinAge: week}, now.Add(-7*24*time.Hour + 1),
			Decision{Held: true, Published: now.Add(-7*24*time.Hour + 1), Until: now.Add(1)}},
		{"a future publish time is held", Cooldown{MinAge: week}, now.Add(time.Hour),
			Decision{Held: true, Published: now.Add(time.Hour), Until: now.Add(7*24*time.Hour + time.Hour)}},
		{"missing time allowed by default", Cooldown{MinAge: week, Mode: ModeDeny}, time.Time{}, Decision{}},
		{"missing time denied", Cooldown{MinAge: week, Mode: ModeDeny, MissingTime: MissingDeny}, time.Time{},
			Decision{Held: true, Deny: true}},
		{"missing time hidden", Cooldown{MinAge: week, MissingTime: MissingDeny}, time.Time{}, Decision{Held: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Decide(now, tt.published); got != tt.want {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecideAgesIn(t *testing.T) {
	published := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	c := Cooldown{MinAge: Duration(7 * 24 * time.Hour), Mode: ModeDeny}
	d := c.Decide(published.Add(24*time.Hour), published)
	if !d.Held {
		t.Fatalf("a day after publication: not held")
	}
	if got := c.Decide(d.Until, published); got.Held {
		t.Errorf("at Until (%s): still held", d.Until)
	}
}

func TestReason(t *testing.T) {
	published := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	d := Cooldown{MinAge: Duration(7 * 24 * time.Hour)}.Decide(published.Add(time.Hour), published)
	msg := d.Reason("1.2.0")
	for _, want := range []string{"1.2.0", "2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Reason = %q, want it to name %s", msg, want)
		}
	}
	if msg := (Decision{Held: true}).Reason("2.0.0"); !strings.Contains(msg, "no known publish time") {
		t.Errorf("Reason without a time = %q", msg)
	}
}

func TestValidate(t *testing.T) {
	check := func(p string) error {
		if !strings.HasPrefix(p, "/") {
			return errors.New("bad pattern " + p)
		}
		return nil
	}
	tests := []struct {
		name    string
		c       Cooldown
		wantErr string
	}{
		{"defaults", Cooldown{MinAge: Duration(time.Hour)}, ""},
		{"full", Cooldown{MinAge: Duration(time.Hour), Mode: ModeDeny, MissingTime: MissingDeny, Exempt: []string{"/npm/acme/*"}}, ""},
		{"negative", Cooldown{MinAge: -1}, "min_age"},
		{"too long", Cooldown{MinAge: Duration(400 * 24 * time.Hour)}, "min_age"},
		{"bad mode", Cooldown{MinAge: 1, Mode: "block"}, `mode "block"`},
		{"bad missing_time", Cooldown{MinAge: 1, MissingTime: "maybe"}, `missing_time "maybe"`},
		{"bad exempt", Cooldown{MinAge: 1, Exempt: []string{"npm"}}, "bad pattern npm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate(check)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}

func TestDurationEncodings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Duration
		str  string
		bad  bool
	}{
		{"days", "7d", Duration(7 * 24 * time.Hour), "7d", false},
		{"hours", "36h", Duration(36 * time.Hour), "36h0m0s", false},
		{"whole days in hours", "48h", Duration(48 * time.Hour), "2d", false},
		{"zero", "0", 0, "0s", false},
		{"fractional days", "1.5d", 0, "", true},
		{"words", "a week", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var y struct {
				D Duration `yaml:"d"`
			}
			err := yaml.Unmarshal([]byte("d: "+tt.in), &y)
			if tt.bad {
				if err == nil {
					t.Fatalf("yaml %q accepted as %s", tt.in, y.D)
				}
				return
			}
			if err != nil || y.D != tt.want {
				t.Fatalf("yaml %q = %s, %v; want %s", tt.in, y.D, err, tt.want)
			}
			if y.D.String() != tt.str {
				t.Errorf("String = %q, want %q", y.D.String(), tt.str)
			}
			b, _ := json.Marshal(y.D)
			var back Duration
			if err := json.Unmarshal(b, &back); err != nil || back != tt.want {
				t.Errorf("json round trip of %s = %s, %v", b, back, err)
			}
		})
	}
}
