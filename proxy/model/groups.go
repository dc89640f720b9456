package model

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/firewall"
	"github.com/stockpile-proxy/stockpile/storage"
)

// Origin restriction types and modes of package groups, as CodeArtifact
// names them.
const (
	RestrictPublish          = "PUBLISH"
	RestrictExternalUpstream = "EXTERNAL_UPSTREAM"
	RestrictInternalUpstream = "INTERNAL_UPSTREAM"

	ModeAllow         = "ALLOW"
	ModeBlock         = "BLOCK"
	ModeAllowSpecific = "ALLOW_SPECIFIC_REPOSITORIES"
	ModeInherit       = "INHERIT"
)

// RestrictionTypes lists the types in a fixed order.
var RestrictionTypes = []string{RestrictPublish, RestrictExternalUpstream, RestrictInternalUpstream}

// RootPattern is the pattern of the group every domain has.
const RootPattern = "/*"

// Group is a package group of a domain.
type Group struct {
	Pattern     string    `json:"pattern"`
	Domain      string    `json:"domain"`
	Description string    `json:"description,omitempty"`
	ContactInfo string    `json:"contactInfo,omitempty"`
	CreatedTime time.Time `json:"createdTime"`
	Tags        []Tag     `json:"tags,omitempty"`
	// Modes maps a restriction type to its mode; absent means INHERIT
	// (ALLOW for the root group).
	Modes map[string]string `json:"modes,omitempty"`
	// Allowed maps a restriction type to the repositories (by name) that
	// ALLOW_SPECIFIC_REPOSITORIES lets through.
	Allowed map[string][]string `json:"allowed,omitempty"`
	// Cooldown is the release-age cooldown of the group's packages, nil
	// when the group sets none.
	Cooldown *firewall.Cooldown `json:"cooldown,omitempty"`

	parsed Pattern
}

// Mode returns the configured mode of a restriction type.
func (g *Group) Mode(typ string) string {
	if m := g.Modes[typ]; m != "" {
		return m
	}
	if g.Pattern == RootPattern {
		return ModeAllow
	}
	return ModeInherit
}

func (g *Group) clone() Group {
	c := *g
	c.Modes = map[string]string{}
	for k, v := range g.Modes {
		c.Modes[k] = v
	}
	c.Allowed = map[string][]string{}
	for k, v := range g.Allowed {
		c.Allowed[k] = append([]string(nil), v...)
	}
	c.Cooldown = cloneCooldown(g.Cooldown)
	return c
}

// Effective is a restriction's mode after inheritance.
type Effective struct {
	Mode          string
	EffectiveMode string
	InheritedFrom string   // pattern of the group the mode came from, when inherited
	Allowed       []string // repositories, for ALLOW_SPECIFIC_REPOSITORIES
}

// Permits reports whether the restriction lets repo through.
func (e Effective) Permits(repo string) bool {
	switch e.EffectiveMode {
	case ModeBlock:
		return false
	case ModeAllowSpecific:
		for _, r := range e.Allowed {
			if r == repo {
				return true
			}
		}
		return false
	}
	return true
}

func groupKey(domain, pattern string) storage.GroupKey {
	return storage.GroupKey{Domain: domain, Pattern: pattern}
}

func (ds *domainState) ensureRoot() {
	if ds.groups == nil {
		ds.groups = map[string]*Group{}
	}
	if _, ok := ds.groups[RootPattern]; !ok {
		root := &Group{Pattern: RootPattern, Domain: ds.Name, CreatedTime: ds.CreatedTime}
		root.parsed, _ = ParsePattern(RootPattern)
		ds.groups[RootPattern] = root
	}
}

func (r *Registry) loadGroups(ctx context.Context) error {
	return r.store.Scan(ctx, storage.GroupsPrefix(), func(_, v []byte) error {
		var g Group
		if err := json.Unmarshal(v, &g); err != nil {
			return fmt.Errorf("model: package group record: %w", err)
		}
		p, err := ParsePattern(g.Pattern)
		if err != nil {
			return err
		}
		g.parsed = p
		if ds := r.domains[g.Domain]; ds != nil {
			ds.ensureRoot()
			ds.groups[g.Pattern] = &g
		}
		return nil
	})
}

// CreateGroup creates a package group. ErrConflict when it exists.
func (r *Registry) CreateGroup(ctx context.Context, domain, pattern, description, contact string, tags []Tag) (Group, error) {
	p, err := ParsePattern(pattern)
	if err != nil {
		return Group{}, err
	}
	if err := ValidateDescription(description); err != nil {
		return Group{}, err
	}
	if err := ValidateDescription(contact); err != nil {
		return Group{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, err := r.domain(domain)
	if err != nil {
		return Group{}, err
	}
	ds.ensureRoot()
	if _, ok := ds.groups[pattern]; ok {
		return Group{}, conflict("package-group", pattern, fmt.Sprintf("package group %s already exists in domain %s", pattern, domain))
	}
	g := &Group{Pattern: pattern, Domain: domain, Description: description, ContactInfo: contact, CreatedTime: r.now().UTC().Truncate(time.Millisecond), Tags: tags, parsed: p}
	if err := r.putJSON(ctx, groupKey(domain, pattern), g); err != nil {
		return Group{}, err
	}
	ds.groups[pattern] = g
	r.changed()
	return g.clone(), nil
}

// Group returns a package group, or ErrNotFound.
func (r *Registry) Group(domain, pattern string) (Group, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g, err := r.group(domain, pattern)
	if err != nil {
		return Group{}, err
	}
	return g.clone(), nil
}

func (r *Registry) group(domain, pattern string) (*Group, error) {
	ds, err := r.domain(domain)
	if err != nil {
		return nil, err
	}
	ds.ensureRoot()
	g, ok := ds.groups[pattern]
	if !ok {
		return nil, notFound("package-group", pattern, fmt.Sprintf("package group %s does not exist in domain %s", pattern, domain))
	}
	return g, nil
}

// Groups lists a domain's package groups by pattern.
func (r *Registry) Groups(domain string) ([]Group, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ds, err := r.domain(domain)
	if err != nil {
		return nil, err
	}
	ds.ensureRoot()
	out := make([]Group, 0, len(ds.groups))
	for _, g := range ds.groups {
		out = append(out, g.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern < out[j].Pattern })
	return out, nil
}

// Parent returns the pattern of a group's parent: the most specific other
// group whose pattern contains it ("" for the root).
func (r *Registry) Parent(domain, pattern string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ds := r.domains[domain]
	if ds == nil {
		return ""
	}
	ds.ensureRoot()
	g := ds.groups[pattern]
	if g == nil {
		return ""
	}
	return parentOf(ds, g)
}

func parentOf(ds *domainState, g *Group) string {
	best := ""
	bestSpec := -1
	for _, o := range ds.groups {
		if o.Pattern == g.Pattern || !o.parsed.contains(g.parsed) {
			continue
		}
		if s := o.parsed.specificity(); s > bestSpec {
			best, bestSpec = o.Pattern, s
		}
	}
	return best
}

// UpdateGroup changes a group's description and contact information.
func (r *Registry) UpdateGroup(ctx context.Context, domain, pattern string, description, contact *string) (Group, error) {
	return r.modifyGroup(ctx, domain, pattern, func(g *Group) error {
		if description != nil {
			if err := ValidateDescription(*description); err != nil {
				return err
			}
			g.Description = *description
		}
		if contact != nil {
			if err := ValidateDescription(*contact); err != nil {
				return err
			}
			g.ContactInfo = *contact
		}
		return nil
	})
}

// AllowedChange is one repository added to or removed from an allowed list.
type AllowedChange struct {
	Repository string
	Type       string
}

// UpdateGroupOrigin sets restriction modes and edits allowed repositories.
// It returns, per type, the repositories actually added and removed.
func (r *Registry) UpdateGroupOrigin(ctx context.Context, domain, pattern string, modes map[string]string, add, remove []AllowedChange) (Group, map[string]map[string][]string, error) {
	changes := map[string]map[string][]string{}
	note := func(typ, what, repo string) {
		if changes[typ] == nil {
			changes[typ] = map[string][]string{}
		}
		changes[typ][what] = append(changes[typ][what], repo)
	}
	g, err := r.modifyGroup(ctx, domain, pattern, func(g *Group) error {
		for typ, mode := range modes {
			if !validType(typ) {
				return invalid(fmt.Sprintf("restriction type %q is not PUBLISH, EXTERNAL_UPSTREAM or INTERNAL_UPSTREAM", typ))
			}
			switch mode {
			case ModeAllow, ModeBlock, ModeAllowSpecific:
			case ModeInherit:
				if g.Pattern == RootPattern {
					return invalid("the root package group /* has no parent to inherit from")
				}
			default:
				return invalid(fmt.Sprintf("mode %q is not ALLOW, BLOCK, ALLOW_SPECIFIC_REPOSITORIES or INHERIT", mode))
			}
			if g.Modes == nil {
				g.Modes = map[string]string{}
			}
			g.Modes[typ] = mode
		}
		ds := r.domains[domain]
		for _, a := range add {
			if !validType(a.Type) {
				return invalid(fmt.Sprintf("restriction type %q is not valid", a.Type))
			}
			if _, ok := ds.byName[a.Repository]; !ok {
				return notFound("repository", a.Repository, fmt.Sprintf("repository %s does not exist in domain %s", a.Repository, domain))
			}
			if g.Allowed == nil {
				g.Allowed = map[string][]string{}
			}
			if !contains(g.Allowed[a.Type], a.Repository) {
				g.Allowed[a.Type] = append(g.Allowed[a.Type], a.Repository)
				note(a.Type, "ADDED", a.Repository)
			}
		}
		for _, a := range remove {
			list := g.Allowed[a.Type]
			for i, n := range list {
				if n == a.Repository {
					g.Allowed[a.Type] = append(list[:i:i], list[i+1:]...)
					note(a.Type, "REMOVED", a.Repository)
					break
				}
			}
		}
		return nil
	})
	return g, changes, err
}

func validType(t string) bool {
	return t == RestrictPublish || t == RestrictExternalUpstream || t == RestrictInternalUpstream
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (r *Registry) modifyGroup(ctx context.Context, domain, pattern string, fn func(*Group) error) (Group, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.group(domain, pattern)
	if err != nil {
		return Group{}, err
	}
	next := g.clone()
	next.parsed = g.parsed
	if err := fn(&next); err != nil {
		return Group{}, err
	}
	if err := r.putJSON(ctx, groupKey(domain, pattern), &next); err != nil {
		return Group{}, err
	}
	*g = next
	r.changed()
	return next.clone(), nil
}

// DeleteGroup deletes a package group; its packages fall to its parent.
// The root group cannot be deleted.
func (r *Registry) DeleteGroup(ctx context.Context, domain, pattern string) (Group, error) {
	if pattern == RootPattern {
		return Group{}, invalid("the root package group /* cannot be deleted")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.group(domain, pattern)
	if err != nil {
		return Group{}, err
	}
	if err := r.delete(ctx, groupKey(domain, pattern)); err != nil {
		return Group{}, err
	}
	delete(r.domains[domain].groups, pattern)
	r.changed()
	return g.clone(), nil
}

// Association is the group a package belongs to.
type Association struct {
	Group Group
	// Weak is true when the package matches its most specific group only
	// once case and separators are ignored: it is then blocked for every
	// origin, as a likely typo-squat.
	Weak bool
}

// Associate returns the group of a package: the most specific matching one.
func (r *Registry) Associate(domain, format, namespace, name string) (Association, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ds, err := r.domain(domain)
	if err != nil {
		return Association{}, err
	}
	ds.ensureRoot()
	var best *Group
	weak := false
	for _, g := range ds.groups {
		strong := g.parsed.Matches(format, namespace, name)
		if !strong && !g.parsed.weakly(format, namespace, name) {
			continue
		}
		if best == nil || g.parsed.specificity() > best.parsed.specificity() ||
			(g.parsed.specificity() == best.parsed.specificity() && strong && weak) {
			best, weak = g, !strong
		}
	}
	return Association{Group: best.clone(), Weak: weak}, nil
}

// EffectiveRestriction resolves a group's mode for a type through INHERIT.
func (r *Registry) EffectiveRestriction(domain, pattern, typ string) Effective {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ds := r.domains[domain]
	if ds == nil {
		return Effective{Mode: ModeAllow, EffectiveMode: ModeAllow}
	}
	ds.ensureRoot()
	g := ds.groups[pattern]
	if g == nil {
		return Effective{Mode: ModeAllow, EffectiveMode: ModeAllow}
	}
	e := Effective{Mode: g.Mode(typ)}
	cur := g
	for hops := 0; cur != nil && hops < 1000; hops++ {
		if m := cur.Mode(typ); m != ModeInherit {
			e.EffectiveMode = m
			e.Allowed = append([]string(nil), cur.Allowed[typ]...)
			if cur != g {
				e.InheritedFrom = cur.Pattern
			}
			return e
		}
		cur = ds.groups[parentOf(ds, cur)]
	}
	e.EffectiveMode = ModeAllow
	return e
}
