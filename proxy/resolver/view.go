package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// viewResult is a merged view and how long it may be reused.
type viewResult struct {
	view *formats.View
	// origins tells, per version, whether it is of external origin.
	external map[string]bool
	// internal is true when a repository reached holds a version published
	// inside the domain (the dependency-confusion guard applies).
	internal bool
	// expires is when an external document behind the view stops being
	// fresh; zero when no external connection contributed.
	expires time.Time
}

// View implements formats.Resolver.
func (r *Resolver) View(ctx context.Context, ref formats.RepoRef, p formats.Package) (*formats.View, error) {
	res, err := r.view(ctx, ref, p, false)
	if err != nil {
		return nil, err
	}
	return res.view, nil
}

// view merges p across the walk from ref. With skipOwn the requested
// repository's own contents are left out (the publish check).
func (r *Resolver) view(ctx context.Context, ref formats.RepoRef, p formats.Package, skipOwn bool) (*viewResult, error) {
	if err := CheckNames(ref.Domain, p, "", ""); err != nil {
		return nil, err
	}
	// A package of a format with no Format (generic) has no external
	// connection to ask: only repositories' contents count.
	f := r.formats[p.Format]
	steps, err := r.registry.Walk(ref.Domain, ref.Repository)
	if err != nil {
		return nil, err
	}
	requested := steps[0].Repo
	rules, err := r.groupRules(ref.Domain, p, requested.Name)
	if err != nil {
		return nil, err
	}
	if rules.weak {
		return nil, fmt.Errorf("%w: package %s only weakly matches its package group %s and is blocked as a likely typo of its names", formats.ErrNotFound, displayName(p), rules.group)
	}
	res := &viewResult{
		view:     &formats.View{Package: p, Versions: map[string]*formats.ViewVersion{}, Tags: map[string]string{}},
		external: map[string]bool{},
	}
	v := res.view
	tags := func(t map[string]string) {
		for k, val := range t {
			if _, ok := v.Tags[k]; !ok {
				v.Tags[k] = val
			}
		}
	}
	found := false
	var internalExtra json.RawMessage // package-level fields from a repository holding internal versions
	internal := false
	adminAllowsUpstream := false
	var upstreamErr error
	for i := 0; i < len(steps); {
		st := steps[i]
		if !rules.internal && st.Repo.ID != requested.ID {
			// The package group keeps this repository from taking versions
			// from its upstream repositories.
			i++
			continue
		}
		if !st.External {
			if skipOwn && i == 0 {
				i++
				continue
			}
			rec, err := r.loadPackage(ctx, ref.Domain, st.Repo.ID, p)
			if err != nil {
				return nil, err
			}
			vers, err := r.loadVersions(ctx, ref.Domain, st.Repo.ID, p)
			if err != nil {
				return nil, err
			}
			if len(vers) > 0 {
				found = true
			}
			for _, vr := range vers {
				if _, ok := v.Versions[vr.Version.Version]; ok {
					continue
				}
				v.Versions[vr.Version.Version] = &formats.ViewVersion{Version: vr.Version, Repository: st.Repo.Name}
				res.external[vr.Version.Version] = vr.Origin.Type == OriginExternal
			}
			if rec != nil {
				tags(rec.Tags)
				if v.Extra == nil && len(rec.Extra) > 0 {
					v.Extra = rec.Extra
				}
				if internalExtra == nil && rec.Internal && len(rec.Extra) > 0 {
					internalExtra = rec.Extra
				}
				internal = internal || rec.Internal
				if i == 0 && rec.Origin.Admin && rec.Origin.Upstream == Allow {
					adminAllowsUpstream = true
				}
				if rec.Origin.Upstream == Block {
					i = st.End
					continue
				}
			}
			i++
			continue
		}
		i++
		if !rules.externalFor(st.Repo.Name) {
			continue
		}
		conn, err := r.conn(st, p.Format)
		if err != nil {
			upstreamErr = errors.Join(upstreamErr, err)
			continue
		}
		if conn == nil || f == nil {
			continue
		}
		g := &getter{r: r, conn: conn}
		md, err := f.FetchMetadata(ctx, g, p)
		if !g.expires.IsZero() && (res.expires.IsZero() || g.expires.Before(res.expires)) {
			res.expires = g.expires
		}
		if errors.Is(err, upstream.ErrNotFound) {
			continue
		}
		if err != nil {
			upstreamErr = errors.Join(upstreamErr, fmt.Errorf("external connection %s of repository %s: %w", conn.Name(), st.Repo.Name, err))
			continue
		}
		found = true
		for ver, mv := range md.Versions {
			if cur, ok := v.Versions[ver]; ok {
				// A version retained from an external connection keeps its
				// bytes, but the upstream's live document (a deprecation,
				// say) replaces the copy taken at retention.
				if res.external[ver] && cur.Connection == "" {
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
			v.Versions[ver] = &formats.ViewVersion{Version: *mv, Repository: st.Repo.Name, Connection: conn.Name()}
			res.external[ver] = true
		}
		tags(md.Tags)
		if v.Extra == nil && len(md.Extra) > 0 {
			v.Extra = md.Extra
		}
	}
	// The dependency-confusion guard: once any repository reached holds a
	// version published inside the domain, versions of external origin are
	// hidden unless an administrator allowed upstream versions here.
	res.internal = internal && !adminAllowsUpstream
	if internal && !adminAllowsUpstream {
		for ver, ext := range res.external {
			if ext {
				delete(v.Versions, ver)
			}
		}
		for tag, ver := range v.Tags {
			if _, ok := v.Versions[ver]; !ok {
				delete(v.Tags, tag)
			}
		}
		// Package-level fields (a readme, say) must not come from the
		// public package either.
		v.Extra = internalExtra
	}
	if !found {
		if upstreamErr != nil {
			return nil, upstreamErr
		}
		return nil, fmt.Errorf("%w: package %s is not in repository %s or its upstreams", formats.ErrNotFound, displayName(p), ref.Repository)
	}
	if upstreamErr != nil {
		// Serve what the other sources know, but only briefly.
		r.log.Warn("view is missing an external connection", "repository", ref.Repository, "package", displayName(p), "error", upstreamErr.Error())
		setOutcome(ctx, "stale")
		res.expires = r.now().Add(r.opts.StaleRetry)
	}
	return res, nil
}

func displayName(p formats.Package) string {
	if p.Namespace == "" {
		return p.Name
	}
	if p.Format == "npm" {
		return "@" + p.Namespace + "/" + p.Name
	}
	return p.Namespace + ":" + p.Name
}
