package firewall

import (
	"errors"
	"fmt"
	"strings"
)

// Rule is an administrator's own decision about some versions of the
// packages a package group pattern matches, for a domain's blocklist or
// allowlist:
//
//	{package: "/npm//left-pad$", versions: ["1.1.0"], reason: "incident 42"}
type Rule struct {
	Package string `yaml:"package"`
	// Versions are exact versions; none means every version.
	Versions []string `yaml:"versions,omitempty"`
	Reason   string   `yaml:"reason"`
	// OverrideMalicious lets an allowlist rule beat a known-malicious
	// advisory; it needs a reason.
	OverrideMalicious bool `yaml:"override_malicious,omitempty"`
}

// Lists are a domain's blocklist and allowlist. A blocked version is left
// out of metadata and its files are refused, whatever its age; an allowed
// version is exempt from the release-age cooldown, and from known-malicious
// advisories only with override_malicious.
type Lists struct {
	Block []Rule `yaml:"block"`
	Allow []Rule `yaml:"allow"`
}

// Matcher tells whether a package group pattern matches a package (the
// model's parsed pattern).
type Matcher interface {
	Matches(format, namespace, name string) bool
}

type compiledRule struct {
	Rule
	m        Matcher
	versions map[string]bool // as written
	lower    map[string]bool // lower-cased, for the formats whose versions ignore case
}

func (c *compiledRule) matches(format, namespace, name, version string) bool {
	if !c.m.Matches(format, namespace, name) {
		return false
	}
	if len(c.versions) == 0 || c.versions[version] {
		return true
	}
	caseless := versionKey(format, "A") == "a"
	return caseless && c.lower[strings.ToLower(version)]
}

// CompiledLists are Lists ready to match; read-only, safe for concurrent
// use. A nil value matches nothing.
type CompiledLists struct {
	block, allow []*compiledRule
}

// Compile validates the lists with parse (the model's pattern parser) and
// returns them ready to match.
func (l Lists) Compile(parse func(string) (Matcher, error)) (*CompiledLists, error) {
	var errs []error
	c := &CompiledLists{}
	add := func(kind string, rules []Rule, into *[]*compiledRule) {
		for i, r := range rules {
			m, err := parse(r.Package)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %w", kind, i, err))
				continue
			}
			if r.Reason == "" {
				errs = append(errs, fmt.Errorf("%s[%d]: a reason is required", kind, i))
			}
			if r.OverrideMalicious && kind == "block" {
				errs = append(errs, fmt.Errorf("%s[%d]: override_malicious belongs to allow rules", kind, i))
			}
			cr := &compiledRule{Rule: r, m: m, versions: map[string]bool{}, lower: map[string]bool{}}
			for _, v := range r.Versions {
				cr.versions[v] = true
				cr.lower[strings.ToLower(v)] = true
			}
			*into = append(*into, cr)
		}
	}
	add("block", l.Block, &c.block)
	add("allow", l.Allow, &c.allow)
	return c, errors.Join(errs...)
}

// Blocked returns the blocklist rule that names a version, or nil.
func (c *CompiledLists) Blocked(format, namespace, name, version string) *Rule {
	return c.find(c.blockRules(), format, namespace, name, version)
}

// Allowed returns the allowlist rule that names a version, or nil.
func (c *CompiledLists) Allowed(format, namespace, name, version string) *Rule {
	return c.find(c.allowRules(), format, namespace, name, version)
}

// MayBlock reports whether the blocklist names the package at all.
func (c *CompiledLists) MayBlock(format, namespace, name string) bool {
	for _, r := range c.blockRules() {
		if r.m.Matches(format, namespace, name) {
			return true
		}
	}
	return false
}

func (c *CompiledLists) blockRules() []*compiledRule {
	if c == nil {
		return nil
	}
	return c.block
}

func (c *CompiledLists) allowRules() []*compiledRule {
	if c == nil {
		return nil
	}
	return c.allow
}

func (c *CompiledLists) find(rules []*compiledRule, format, namespace, name, version string) *Rule {
	for _, r := range rules {
		if r.matches(format, namespace, name, version) {
			return &r.Rule
		}
	}
	return nil
}
