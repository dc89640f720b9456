package resolver

import (
	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
)

// groupRules are a package group's origin controls for one package as seen
// by one requesting repository. They add to the package's own origin
// controls: the stricter of the two wins.
type groupRules struct {
	group    string
	weak     bool // the package only weakly matches its group: blocked for every origin
	publish  bool // the requesting repository may publish the package
	internal bool // it may take versions from its upstream repositories
	external model.Effective
}

// externalFor reports whether versions may be ingested through the external
// connection of repository repo.
func (g groupRules) externalFor(repo string) bool { return g.external.Permits(repo) }

func (r *Resolver) groupRules(domain string, p formats.Package, repo string) (groupRules, error) {
	a, err := r.registry.Associate(domain, p.Format, p.Namespace, p.Name)
	if err != nil {
		return groupRules{}, err
	}
	g := a.Group.Pattern
	return groupRules{
		group:    g,
		weak:     a.Weak,
		publish:  r.registry.EffectiveRestriction(domain, g, model.RestrictPublish).Permits(repo),
		internal: r.registry.EffectiveRestriction(domain, g, model.RestrictInternalUpstream).Permits(repo),
		external: r.registry.EffectiveRestriction(domain, g, model.RestrictExternalUpstream),
	}, nil
}
