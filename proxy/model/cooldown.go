package model

import (
	"context"
	"fmt"

	"github.com/stockpile-proxy/stockpile/proxy/firewall"
)

func cloneCooldown(c *firewall.Cooldown) *firewall.Cooldown {
	if c == nil {
		return nil
	}
	n := *c
	n.Exempt = append([]string(nil), c.Exempt...)
	return &n
}

// ValidateCooldown checks a cooldown block, its exempt patterns included;
// the error wraps ErrInvalid.
func ValidateCooldown(c firewall.Cooldown) error {
	if err := c.Validate(func(p string) error { _, err := ParsePattern(p); return err }); err != nil {
		return invalid(err.Error())
	}
	return nil
}

// SetRepositoryCooldown sets (nil: removes) a repository's cooldown.
func (r *Registry) SetRepositoryCooldown(ctx context.Context, domain, name string, c *firewall.Cooldown) (Repository, error) {
	if c != nil {
		if err := ValidateCooldown(*c); err != nil {
			return Repository{}, err
		}
	}
	return r.modify(ctx, domain, name, func(_ *domainState, repo *Repository) error {
		repo.Cooldown = cloneCooldown(c)
		return nil
	})
}

// SetGroupCooldown sets (nil: removes) a package group's cooldown.
func (r *Registry) SetGroupCooldown(ctx context.Context, domain, pattern string, c *firewall.Cooldown) (Group, error) {
	if c != nil {
		if err := ValidateCooldown(*c); err != nil {
			return Group{}, err
		}
	}
	return r.modifyGroup(ctx, domain, pattern, func(g *Group) error {
		g.Cooldown = cloneCooldown(c)
		return nil
	})
}

// EffectiveCooldown is the cooldown that applies to a package in a
// repository, and where it is set.
type EffectiveCooldown struct {
	firewall.Cooldown
	// Source names where it is set: "repository NAME" or "package group
	// PATTERN".
	Source string
}

// CooldownFor returns the cooldown that applies to a package requested from
// repository repo, the most specific association winning: the package's
// package group or the nearest ancestor group that sets one (other than the
// root group /*), else the repository's own, else the root group's (a
// domain-wide default). ok is false when none applies, or when the package
// matches one of the winning cooldown's exempt patterns.
func (r *Registry) CooldownFor(domain, repo, format, namespace, name string) (EffectiveCooldown, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ds := r.domains[domain]
	if ds == nil {
		return EffectiveCooldown{}, false
	}
	ds.ensureRoot()
	var best *Group
	for _, g := range ds.groups {
		if g.parsed.Matches(format, namespace, name) && (best == nil || g.parsed.specificity() > best.parsed.specificity()) {
			best = g
		}
	}
	var found *EffectiveCooldown
	for cur, hops := best, 0; cur != nil && hops < 1000 && cur.Pattern != RootPattern; hops++ {
		if cur.Cooldown != nil {
			found = &EffectiveCooldown{Cooldown: *cur.Cooldown, Source: "package group " + cur.Pattern}
			break
		}
		cur = ds.groups[parentOf(ds, cur)]
	}
	if rp := ds.byName[repo]; found == nil && rp != nil && rp.Cooldown != nil {
		found = &EffectiveCooldown{Cooldown: *rp.Cooldown, Source: "repository " + repo}
	}
	if root := ds.groups[RootPattern]; found == nil && root.Cooldown != nil {
		found = &EffectiveCooldown{Cooldown: *root.Cooldown, Source: fmt.Sprintf("package group %s", RootPattern)}
	}
	if found == nil || found.MinAge <= 0 {
		return EffectiveCooldown{}, false
	}
	for _, raw := range found.Exempt {
		if p, err := ParsePattern(raw); err == nil && p.Matches(format, namespace, name) {
			return EffectiveCooldown{}, false
		}
	}
	found.Cooldown = found.WithDefaults()
	return *found, true
}
