// Package firewall is Stockpile's supply-chain policy core: the release-age
// cooldown a repository or package group sets for versions that arrive
// through an external connection, and the decision, at a given time, whether
// one such version is held back. It knows nothing of formats, storage or
// HTTP: the engine asks it about each version of a merged view, with the
// engine's clock, and acts on the answer.
package firewall

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Modes of a cooldown.
const (
	// ModeHide leaves held versions out of every metadata document; their
	// files stay downloadable by exact URL (a lockfile still installs).
	ModeHide = "hide"
	// ModeDeny also refuses their files with 403.
	ModeDeny = "deny"
)

// What a cooldown does with a version whose publish time is unknown.
const (
	MissingAllow = "allow"
	MissingDeny  = "deny"
)

// MaxMinAge bounds min_age: a longer cooldown is a mistake, not a policy.
const MaxMinAge = 365 * 24 * time.Hour

// Cooldown is a release-age cooldown, as configured on a repository entry
// or a package group:
//
//	cooldown: {min_age: 7d, mode: hide, missing_time: allow, exempt: [/npm/acme/*]}
//
// A zero MinAge turns the cooldown off (a package group can so exempt its
// packages from its repository's cooldown).
type Cooldown struct {
	MinAge      Duration `yaml:"min_age" json:"minAge"`
	Mode        string   `yaml:"mode" json:"mode"`
	MissingTime string   `yaml:"missing_time" json:"missingTime"`
	// Exempt are package group patterns (/npm/acme/*) whose packages the
	// cooldown does not apply to.
	Exempt []string `yaml:"exempt,omitempty" json:"exempt,omitempty"`
	// ApplyToRetained also holds versions of external origin that a
	// repository reached has already retained (by default they stay
	// offered: they were taken before, or fetched by exact pin).
	ApplyToRetained bool `yaml:"apply_to_retained,omitempty" json:"applyToRetained,omitempty"`
}

// WithDefaults fills the keys left out: mode hide, missing_time allow (as
// the clients that have a cooldown of their own do).
func (c Cooldown) WithDefaults() Cooldown {
	if c.Mode == "" {
		c.Mode = ModeHide
	}
	if c.MissingTime == "" {
		c.MissingTime = MissingAllow
	}
	return c
}

// Validate reports what is wrong with c; checkPattern validates one exempt
// package group pattern (the model's parser).
func (c Cooldown) Validate(checkPattern func(string) error) error {
	var errs []error
	if c.MinAge < 0 || time.Duration(c.MinAge) > MaxMinAge {
		errs = append(errs, fmt.Errorf("cooldown min_age %s must be between 0 and 365d", c.MinAge))
	}
	switch c.Mode {
	case "", ModeHide, ModeDeny:
	default:
		errs = append(errs, fmt.Errorf("cooldown mode %q must be hide or deny", c.Mode))
	}
	switch c.MissingTime {
	case "", MissingAllow, MissingDeny:
	default:
		errs = append(errs, fmt.Errorf("cooldown missing_time %q must be allow or deny", c.MissingTime))
	}
	if len(c.Exempt) > 100 {
		errs = append(errs, fmt.Errorf("cooldown exempt lists %d patterns; at most 100 are allowed", len(c.Exempt)))
	}
	for _, p := range c.Exempt {
		if checkPattern == nil {
			break
		}
		if err := checkPattern(p); err != nil {
			errs = append(errs, fmt.Errorf("cooldown exempt: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Decision is what a cooldown decides about one version at one time.
type Decision struct {
	// Held is true when the version is kept from clients: left out of
	// metadata, and its files refused when Deny.
	Held bool
	Deny bool
	// Published is the version's publish time, zero when unknown.
	Published time.Time
	// Until is when the version becomes available; zero when it never
	// will by itself (its publish time is unknown and missing_time is deny).
	Until time.Time
}

// Reason says why the version is held, for messages and logs.
func (d Decision) Reason(version string) string {
	if d.Published.IsZero() {
		return fmt.Sprintf("version %s has no known publish time and the repository's cooldown holds such versions back", version)
	}
	return fmt.Sprintf("version %s was published %s and is held back by the repository's release-age cooldown until %s",
		version, d.Published.UTC().Format(time.RFC3339), d.Until.UTC().Format(time.RFC3339))
}

// Decide decides, at time now, about a version published at published (zero
// when unknown) that arrives through an external connection. c must have
// passed Validate; a cooldown with no MinAge holds nothing.
func (c Cooldown) Decide(now, published time.Time) Decision {
	c = c.WithDefaults()
	if c.MinAge <= 0 {
		return Decision{}
	}
	d := Decision{Deny: c.Mode == ModeDeny, Published: published}
	if published.IsZero() {
		d.Held = c.MissingTime == MissingDeny
		if !d.Held {
			d.Deny = false
		}
		return d
	}
	d.Until = published.Add(time.Duration(c.MinAge))
	d.Held = now.Before(d.Until)
	if !d.Held {
		d.Deny, d.Until = false, time.Time{}
	}
	return d
}

// Duration is a length of time written as Go does (90m, 168h) or in whole
// days (7d), in YAML and JSON alike.
type Duration time.Duration

// ParseDuration reads "7d", "36h", "1h30m" or "0".
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("duration %q: a number of days is a whole number, like 7d", s)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q is not like 7d, 36h or 90m", s)
	}
	return Duration(d), nil
}

// String writes whole days as 7d, anything else as Go does.
func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	}
	return td.String()
}

// UnmarshalYAML implements yaml.Unmarshaler; errors name the line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalJSON writes the duration as a string (7d).
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string (7d, 36h).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"7d\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration as a string (7d).
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
