package resolver

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/firewall"
)

// heldVersion is a version the release-age cooldown keeps out of a view.
type heldVersion struct {
	vv       *formats.ViewVersion
	decision firewall.Decision
	source   string // where the cooldown is set, for messages
}

// FirewallObserver is told of each version the firewall holds back while a
// view is built and of each file it refuses, for metrics. The Observer
// given to New may implement it.
type FirewallObserver interface {
	Held(format, mode string)
	Refused(format, reason string)
}

// applyCooldown takes out of a merged view the versions the cooldown that
// applies to p holds back, and the tags that point at them; it remembers
// them in res.held so an exact file request can still be served (hide) or
// refused with the reason (deny). Only versions offered by an external
// connection and not yet retained in a repository reached are judged
// (with apply_to_retained, retained ones of external origin too): a
// version published inside the domain is never held back. The view
// expires when the first held version ages in, so no rendered document
// outlives a hold.
func (r *Resolver) applyCooldown(ref formats.RepoRef, p formats.Package, res *viewResult) {
	if p.Name == "" {
		// Not a package: Maven's group-level pseudo-package, whose
		// "versions" are plugins.
		return
	}
	cd, ok := r.registry.CooldownFor(ref.Domain, ref.Repository, p.Format, p.Namespace, p.Name)
	if !ok {
		return
	}
	now := r.now()
	blocks := r.advisorySet()
	v := res.view
	for ver, vv := range v.Versions {
		judged := vv.Connection != "" || (cd.ApplyToRetained && res.external[ver])
		if !judged || blocks.allowed(ref.Domain, p, ver) != nil {
			continue
		}
		d := cd.Decide(now, vv.Published)
		if !d.Held {
			continue
		}
		if res.held == nil {
			res.held = map[string]heldVersion{}
		}
		res.held[ver] = heldVersion{vv: vv, decision: d, source: cd.Source}
		if v.Held == nil {
			v.Held = map[string]*formats.HeldVersion{}
		}
		v.Held[ver] = &formats.HeldVersion{ViewVersion: vv, Deny: d.Deny, Reason: r.displayName(p) + " " + d.Reason(ver)}
		delete(v.Versions, ver)
		if !d.Until.IsZero() && (res.expires.IsZero() || d.Until.Before(res.expires)) {
			res.expires = d.Until
		}
		if o, ok := r.obs.(FirewallObserver); ok {
			o.Held(p.Format, cd.Mode)
		}
	}
	for tag, ver := range v.Tags {
		if _, held := res.held[ver]; held {
			delete(v.Tags, tag)
		}
	}
}

// heldFile returns the version a file request names when the cooldown
// holds it: itself in hide mode (a lockfile or a hard-coded URL still
// installs it), an error wrapping formats.ErrNotAllowed that says why and
// until when in deny mode. It returns nil, nil when the version is not held.
func (r *Resolver) heldFile(ref formats.RepoRef, p formats.Package, res *viewResult, version string) (*formats.ViewVersion, error) {
	h, ok := res.held[version]
	if !ok {
		return nil, nil
	}
	if !h.decision.Deny {
		return h.vv, nil
	}
	r.log.Info("firewall refused a file", "repository", ref.Repository, "package", r.displayName(p), "version", version,
		"reason", "cooldown", "cooldown", h.source, "published", h.decision.Published, "until", h.decision.Until)
	if o, ok := r.obs.(FirewallObserver); ok {
		o.Refused(p.Format, "cooldown")
	}
	return nil, &formats.RefusalError{Err: fmt.Errorf("%w: %s %s", formats.ErrNotAllowed, r.displayName(p), h.decision.Reason(version))}
}

// checkRetainedHeld refuses a file of a version a repository reached has
// retained when a deny-mode cooldown with apply_to_retained holds it: such
// a file is served from storage without the walk that refuses files of
// versions not retained (heldFile).
func (r *Resolver) checkRetainedHeld(ctx context.Context, ref formats.RepoRef, p formats.Package, version string) error {
	if p.Name == "" {
		return nil
	}
	cd, ok := r.registry.CooldownFor(ref.Domain, ref.Repository, p.Format, p.Namespace, p.Name)
	if !ok || !cd.ApplyToRetained || cd.Mode != firewall.ModeDeny {
		return nil
	}
	res, err := r.view(ctx, ref, p, false)
	if err != nil {
		return nil // the look-up that follows answers as it would have
	}
	_, err = r.heldFile(ref, p, res, version)
	return err
}

// HeldVersion is a version the firewall keeps from a repository's clients,
// for administrators.
type HeldVersion struct {
	Version   string
	Published time.Time // zero when unknown
	Until     time.Time // zero when it will not age in by itself
	Mode      string    // hide or deny
	Source    string    // where the cooldown is set
}

// Held lists the versions of p that the cooldown holds back from clients
// of repository ref right now, by version. It builds the view as a client
// would, so it asks the external connections as a client request would.
func (r *Resolver) Held(ctx context.Context, ref formats.RepoRef, p formats.Package) ([]HeldVersion, error) {
	res, err := r.view(ctx, ref, p, false)
	if err != nil {
		return nil, err
	}
	out := make([]HeldVersion, 0, len(res.held))
	for ver, h := range res.held {
		mode := firewall.ModeHide
		if h.decision.Deny {
			mode = firewall.ModeDeny
		}
		out = append(out, HeldVersion{Version: ver, Published: h.decision.Published, Until: h.decision.Until, Mode: mode, Source: h.source})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// blockSet is what the engine blocks versions by besides the cooldown:
// the known-malicious advisories and each domain's blocklist and
// allowlist, with a generation that rendered documents remember.
type blockSet struct {
	a     *firewall.Advisories
	lists map[string]*firewall.CompiledLists // by domain
	gen   uint64
}

// blocked is why a version is blocked: its refusal message and the kind
// of rule (malicious, blocklist), for logs and metrics.
type blocked struct {
	kind, message string
}

// SetAdvisories replaces the known-malicious advisories the engine blocks
// versions by (nil: none); every rendered document is rebuilt on its next
// request.
func (r *Resolver) SetAdvisories(a *firewall.Advisories) {
	r.advMu.Lock()
	defer r.advMu.Unlock()
	prev := r.advisories.Load()
	r.advisories.Store(&blockSet{a: a, lists: prev.lists, gen: prev.gen + 1})
}

// SetDomainLists replaces a domain's blocklist and allowlist (nil: none).
func (r *Resolver) SetDomainLists(domain string, l *firewall.CompiledLists) {
	r.advMu.Lock()
	defer r.advMu.Unlock()
	prev := r.advisories.Load()
	lists := make(map[string]*firewall.CompiledLists, len(prev.lists)+1)
	for d, cl := range prev.lists {
		lists[d] = cl
	}
	lists[domain] = l
	r.advisories.Store(&blockSet{a: prev.a, lists: lists, gen: prev.gen + 1})
}

func (r *Resolver) advisorySet() *blockSet { return r.advisories.Load() }

// allowed reports whether the domain's allowlist names a version.
func (b *blockSet) allowed(domain string, p formats.Package, version string) *firewall.Rule {
	return b.lists[domain].Allowed(p.Format, p.Namespace, p.Name, version)
}

// blockOf says whether and why a version of external origin is blocked:
// by the domain's blocklist, else by a known-malicious advisory unless an
// allowlist rule overrides it with a reason.
func (b *blockSet) blockOf(domain string, p formats.Package, version string) *blocked {
	if rule := b.lists[domain].Blocked(p.Format, p.Namespace, p.Name, version); rule != nil {
		return &blocked{kind: "blocklist", message: fmt.Sprintf("version %s is blocked by the domain's blocklist: %s", version, rule.Reason)}
	}
	adv := b.a.Match(p.Format, p.Namespace, p.Name, version)
	if adv == nil {
		return nil
	}
	if rule := b.allowed(domain, p, version); rule != nil && rule.OverrideMalicious {
		return nil
	}
	return &blocked{kind: "malicious", message: fmt.Sprintf("version %s is blocked as known malicious by advisory %s", version, adv.ID)}
}

// mayBlock is the cheap test before a view is looked at.
func (b *blockSet) mayBlock(domain string, p formats.Package) bool {
	return b.a.Any(p.Format, p.Namespace, p.Name) || b.lists[domain].MayBlock(p.Format, p.Namespace, p.Name)
}

// applyBlocks takes out of a merged view the versions of external origin,
// retained or not, that the domain's blocklist or a known-malicious
// advisory blocks, and the tags that point at them; they are remembered in
// res.blocked so their files are refused. Versions published inside the
// domain are not the public package an advisory is about.
func (r *Resolver) applyBlocks(ref formats.RepoRef, p formats.Package, res *viewResult) {
	b := r.advisorySet()
	if !b.mayBlock(ref.Domain, p) {
		return
	}
	block := func(ver string) bool {
		why := b.blockOf(ref.Domain, p, ver)
		if why == nil {
			return false
		}
		if res.blocked == nil {
			res.blocked = map[string]*blocked{}
		}
		res.blocked[ver] = why
		return true
	}
	v := res.view
	for ver := range v.Versions {
		if res.external[ver] && block(ver) {
			delete(v.Versions, ver)
		}
	}
	for ver := range res.held {
		if block(ver) {
			delete(res.held, ver)
			delete(v.Held, ver)
		}
	}
	for tag, ver := range v.Tags {
		if _, ok := res.blocked[ver]; ok {
			delete(v.Tags, tag)
		}
	}
}

// checkBlocked refuses a file of a version the domain's blocklist or a
// known-malicious advisory blocks in the view from ref, whatever the mode
// and even when a repository retained it before the rule arrived.
func (r *Resolver) checkBlocked(ctx context.Context, ref formats.RepoRef, p formats.Package, version string) error {
	if r.advisorySet().blockOf(ref.Domain, p, version) == nil {
		return nil
	}
	res, err := r.view(ctx, ref, p, false)
	if err != nil {
		return err
	}
	why := res.blocked[version]
	if why == nil {
		return nil // published inside the domain
	}
	r.log.Info("firewall refused a file", "repository", ref.Repository, "package", r.displayName(p), "version", version,
		"reason", why.kind, "message", why.message)
	if o, ok := r.obs.(FirewallObserver); ok {
		o.Refused(p.Format, why.kind)
	}
	return &formats.RefusalError{Err: fmt.Errorf("%w: %s %s", formats.ErrNotAllowed, r.displayName(p), why.message)}
}
