package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
)

// viewResult is a merged view and how long it may be reused.
type viewResult struct {
	view *formats.View
	// external tells, per version, whether it is of external origin.
	external map[string]bool
	// internal is true when a repository reached holds a version published
	// inside the domain (the dependency-confusion guard applies).
	internal bool
	// expires is when an external document behind the view stops being
	// fresh, or a version the cooldown holds ages in; zero when neither.
	expires time.Time
	// held are the versions the release-age cooldown took out of view.
	held map[string]heldVersion
	// blocked are the versions the blocklist or known-malicious advisories
	// took out of view.
	blocked map[string]*blocked
	// stale is true when an external source could not be reached and
	// what it said before was used, or left out.
	stale bool
}

// View implements formats.Resolver.
func (r *Resolver) View(ctx context.Context, ref formats.RepoRef, p formats.Package) (*formats.View, error) {
	res, err := r.view(ctx, ref, p, false)
	if err != nil {
		return nil, err
	}
	return res.view, nil
}

// view merges p across the walk from ref in three steps: gather each
// source's versions in walk order (merging as they come: the first source
// to name a version wins), then apply the dependency-confusion guard, then
// decide between an answer, a short-lived partial answer and an error. With
// skipOwn the requested repository's own contents are left out (the
// publish check).
func (r *Resolver) view(ctx context.Context, ref formats.RepoRef, p formats.Package, skipOwn bool) (*viewResult, error) {
	if err := CheckNames(ref.Domain, p, "", ""); err != nil {
		return nil, err
	}
	steps, err := r.registry.Walk(ref.Domain, ref.Repository)
	if err != nil {
		return nil, err
	}
	rules, err := r.groupRules(ref.Domain, p, steps[0].Repo.Name)
	if err != nil {
		return nil, err
	}
	if rules.weak {
		return nil, fmt.Errorf("%w: package %s only weakly matches its package group %s and is blocked as a likely typo of its names", formats.ErrNotFound, r.displayName(p), rules.group)
	}
	m := newViewMerge(p)
	if err := r.gather(ctx, ref.Domain, p, steps, rules, skipOwn, m); err != nil {
		return nil, err
	}
	m.guard()
	res := m.res
	if !m.found {
		if m.upstreamErr != nil {
			return nil, m.upstreamErr
		}
		return nil, fmt.Errorf("%w: package %s is not in repository %s or its upstreams", formats.ErrNotFound, r.displayName(p), ref.Repository)
	}
	if m.upstreamErr != nil {
		// Serve what the other sources know, but only briefly.
		r.log.Warn("view is missing an external connection", "repository", ref.Repository, "package", r.displayName(p), "error", m.upstreamErr.Error())
		setOutcome(ctx, "stale")
		res.expires = r.now().Add(r.opts.StaleRetry)
		res.stale = true
	}
	if !skipOwn {
		// The publish check sees every version; clients do not.
		r.applyCooldown(ref, p, res)
		r.applyBlocks(ref, p, res)
	}
	return res, nil
}

// gather walks the steps and adds what each source knows of p to m.
func (r *Resolver) gather(ctx context.Context, domain string, p formats.Package, steps []model.Step, rules groupRules, skipOwn bool, m *viewMerge) error {
	for i := 0; i < len(steps); {
		st := steps[i]
		switch {
		case !rules.internal && st.Repo.ID != steps[0].Repo.ID:
			// The package group keeps this repository from taking versions
			// from its upstream repositories.
			i++
		case st.External:
			i++
			if rules.externalFor(st.Repo.Name) {
				r.gatherExternal(ctx, st, p, m)
			}
		case skipOwn && i == 0:
			i++
		default:
			blocked, err := r.gatherRepository(ctx, domain, st, i == 0, p, m)
			if err != nil {
				return err
			}
			if blocked {
				i = st.End // the package blocks its upstreams here
			} else {
				i++
			}
		}
	}
	return nil
}

// gatherRepository adds what repository st holds of p; it reports whether
// the package's origin controls there block upstream versions.
func (r *Resolver) gatherRepository(ctx context.Context, domain string, st model.Step, requested bool, p formats.Package, m *viewMerge) (bool, error) {
	rec, err := r.loadPackage(ctx, domain, st.Repo.ID, p)
	if err != nil {
		return false, err
	}
	vers, err := r.loadVersions(ctx, domain, st.Repo.ID, p)
	if err != nil {
		return false, err
	}
	m.addRepository(st.Repo.Name, rec, vers, requested)
	return rec != nil && rec.Origin.Upstream == Block, nil
}

// gatherExternal adds what the external connection of step st knows of p.
// Its failure is noted in m, not returned: other sources may still answer.
func (r *Resolver) gatherExternal(ctx context.Context, st model.Step, p formats.Package, m *viewMerge) {
	conn, err := r.conn(st, p.Format)
	if err != nil {
		m.upstreamErr = errors.Join(m.upstreamErr, err)
		return
	}
	// A package of a format with no Format (generic) has no external
	// connection to ask: only repositories' contents count.
	f := r.formats[p.Format]
	if conn == nil || f == nil {
		return
	}
	g := &getter{r: r, conn: conn}
	md, err := f.FetchMetadata(ctx, g, p)
	if g.changedDocs() && formats.IsFresh(ctx) {
		// A forced revalidation found the upstream's metadata changed:
		// every rendered document of p (other variants, other
		// repositories, other domains reading the same connection) was
		// built from the old one and would be served until its TTL.
		r.touchEverywhere(p)
	}
	if g.stale {
		m.res.stale = true
	}
	if !g.expires.IsZero() && (m.res.expires.IsZero() || g.expires.Before(m.res.expires)) {
		m.res.expires = g.expires
	}
	if errors.Is(err, formats.ErrNotFound) { // the upstream's 404 or the format's own absence
		return
	}
	if err != nil {
		m.upstreamErr = errors.Join(m.upstreamErr, fmt.Errorf("external connection %s of repository %s: %w", conn.Name(), st.Repo.Name, err))
		return
	}
	m.addExternal(st.Repo.Name, conn.Name(), md)
}

// viewMerge is a view being merged from its sources, in walk order.
type viewMerge struct {
	res   *viewResult
	found bool
	// internal is true once a repository reached holds a version published
	// inside the domain; internalExtra is such a repository's package-level
	// fields.
	internal            bool
	internalExtra       json.RawMessage
	adminAllowsUpstream bool
	upstreamErr         error
}

func newViewMerge(p formats.Package) *viewMerge {
	return &viewMerge{res: &viewResult{
		view:     &formats.View{Package: p, Versions: map[string]*formats.ViewVersion{}, Tags: map[string]string{}},
		external: map[string]bool{},
	}}
}

// tags adds the tags not set by an earlier source.
func (m *viewMerge) tags(t map[string]string) {
	for k, val := range t {
		if _, ok := m.res.view.Tags[k]; !ok {
			m.res.view.Tags[k] = val
		}
	}
}

// addRepository adds a repository's package record (nil when none) and
// versions; requested is true for the repository the client asked.
func (m *viewMerge) addRepository(repo string, rec *PackageRecord, vers []*VersionRecord, requested bool) {
	v := m.res.view
	if len(vers) > 0 {
		m.found = true
	}
	for _, vr := range vers {
		if _, ok := v.Versions[vr.Version.Version]; ok {
			continue
		}
		v.Versions[vr.Version.Version] = &formats.ViewVersion{Version: vr.Version, Repository: repo}
		m.res.external[vr.Version.Version] = vr.Origin.Type == OriginExternal
	}
	if rec == nil {
		return
	}
	m.tags(rec.Tags)
	if v.Extra == nil && len(rec.Extra) > 0 {
		v.Extra = rec.Extra
	}
	if m.internalExtra == nil && rec.Internal && len(rec.Extra) > 0 {
		m.internalExtra = rec.Extra
	}
	m.internal = m.internal || rec.Internal
	if requested && rec.Origin.Admin && rec.Origin.Upstream == Allow {
		m.adminAllowsUpstream = true
	}
}

// addExternal adds what an external connection's metadata lists.
func (m *viewMerge) addExternal(repo, conn string, md *formats.Metadata) {
	v := m.res.view
	m.found = true
	for ver, mv := range md.Versions {
		if cur, ok := v.Versions[ver]; ok {
			// A version retained from an external connection keeps its
			// bytes, but the upstream's live document (a deprecation, say)
			// replaces the copy taken at retention.
			if m.res.external[ver] && cur.Connection == "" {
				if len(mv.Meta) > 0 {
					cur.Meta = mv.Meta
				}
				if mv.Status == formats.StatusUnlisted && cur.Status == formats.StatusPublished {
					cur.Status = formats.StatusUnlisted // yanked upstream since
				}
			}
			continue
		}
		if mv.Status == "" {
			mv.Status = formats.StatusPublished
		}
		v.Versions[ver] = &formats.ViewVersion{Version: *mv, Repository: repo, Connection: conn}
		m.res.external[ver] = true
	}
	m.tags(md.Tags)
	if v.Extra == nil && len(md.Extra) > 0 {
		v.Extra = md.Extra
	}
}

// guard is the dependency-confusion guard: once any repository reached
// holds a version published inside the domain, versions of external origin
// are hidden unless an administrator allowed upstream versions here.
func (m *viewMerge) guard() {
	m.res.internal = m.internal && !m.adminAllowsUpstream
	if !m.res.internal {
		return
	}
	v := m.res.view
	for ver, ext := range m.res.external {
		if ext {
			delete(v.Versions, ver)
		}
	}
	for tag, ver := range v.Tags {
		if _, ok := v.Versions[ver]; !ok {
			delete(v.Tags, tag)
		}
	}
	// Package-level fields (a readme, say) must not come from the public
	// package either.
	v.Extra = m.internalExtra
}

// displayName is how messages name p: as its format spells it when the
// format says (npm's @scope/name), else namespace:name.
func (r *Resolver) displayName(p formats.Package) string {
	if d, ok := r.formats[p.Format].(formats.Displayer); ok {
		return d.DisplayName(p)
	}
	if p.Namespace == "" {
		return p.Name
	}
	return p.Namespace + ":" + p.Name
}
