package resolver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/storage"
)

// Publish implements formats.Resolver. Under the package's lock it checks
// the publish is allowed, stores the assets' bytes, then writes the version
// and package records together.
func (r *Resolver) Publish(ctx context.Context, ref formats.RepoRef, p formats.Package, pub formats.Publication) error {
	for _, a := range pub.Version.Assets {
		if err := CheckNames(ref.Domain, p, pub.Version.Version, a.Name); err != nil {
			return err
		}
	}
	repo, err := r.registry.Repository(ref.Domain, ref.Repository)
	if err != nil {
		return err
	}
	ver := pub.Version.Version
	unlock := r.locks.Lock(genKey(ref.Domain, p))
	defer unlock()

	rec, err := r.loadPackage(ctx, ref.Domain, repo.ID, p)
	if err != nil {
		return err
	}
	cur, err := r.checkPublish(ctx, ref, repo.ID, p, rec, pub)
	if err != nil {
		return err
	}
	v, err := r.storeAssets(ctx, ref.Domain, pub)
	if err != nil {
		return err
	}
	vrec := VersionRecord{Version: v, Origin: VersionOrigin{Type: OriginInternal, Repository: ref.Repository}}
	if cur != nil {
		merged, changed, err := r.mergePublished(p, cur, v.Assets, pub)
		if err != nil || !changed {
			return err // nothing new: an idempotent success
		}
		vrec = *merged
	}
	vrec.Revision = Revision(&vrec.Version)
	rec = publishedPackage(rec, p, pub, r.now().UTC())
	m1, err := mutation(verKey(ref.Domain, repo.ID, p, ver), vrec)
	if err != nil {
		return err
	}
	m2, err := mutation(pkgKey(ref.Domain, repo.ID, p), rec)
	if err != nil {
		return err
	}
	if err := r.store.Apply(ctx, []storage.Mutation{m1, m2}); err != nil {
		return err
	}
	r.touch(ref.Domain, p)
	return nil
}

// checkPublish applies the package group's and the package's origin
// controls and refuses a version that exists here or upstream. It returns
// the version record the repository holds already (for a merge), or nil.
func (r *Resolver) checkPublish(ctx context.Context, ref formats.RepoRef, repoID string, p formats.Package, rec *PackageRecord, pub formats.Publication) (*VersionRecord, error) {
	ver := pub.Version.Version
	rules, err := r.groupRules(ref.Domain, p, ref.Repository)
	if err != nil {
		return nil, err
	}
	if rules.weak || !rules.publish {
		return nil, fmt.Errorf("%w: publishing %s to repository %s is blocked by package group %s", formats.ErrNotAllowed, r.displayName(p), ref.Repository, rules.group)
	}
	if rec != nil && rec.Origin.Publish == Block {
		return nil, fmt.Errorf("%w: publishing %s to repository %s is blocked by the package's origin configuration (publish=BLOCK)", formats.ErrNotAllowed, r.displayName(p), ref.Repository)
	}
	cur, err := r.loadVersion(ctx, ref.Domain, repoID, p, ver)
	if err != nil {
		return nil, err
	}
	if cur != nil && !pub.Merge {
		return nil, fmt.Errorf("%w: version %s of %s already exists in repository %s", formats.ErrConflict, ver, r.displayName(p), ref.Repository)
	}
	if cur != nil && cur.Origin.Type != OriginInternal {
		return nil, fmt.Errorf("%w: version %s of %s in repository %s came from %s and cannot take new files", formats.ErrConflict, ver, r.displayName(p), ref.Repository, cur.Origin.Connection)
	}
	// A package that may take upstream versions must not shadow one: refuse
	// a version that an upstream or external connection already serves.
	if cur == nil && (rec == nil || rec.Origin.Upstream == Allow) {
		res, err := r.view(ctx, ref, p, true)
		switch {
		case errors.Is(err, formats.ErrNotFound):
		case err != nil:
			// As CodeArtifact does during an outage, publish without the check.
			r.log.Warn("publishing without the upstream version check", "package", r.displayName(p), "error", err.Error())
		default:
			if vv, ok := res.view.Versions[ver]; ok {
				return nil, fmt.Errorf("%w: version %s of %s is already available from upstream repository %s", formats.ErrConflict, ver, r.displayName(p), vv.Repository)
			}
		}
	}
	return cur, nil
}

// storeAssets writes the published assets' bytes, each checked against its
// declared digests and the size bound, and returns the version with what
// was stored.
func (r *Resolver) storeAssets(ctx context.Context, domain string, pub formats.Publication) (formats.Version, error) {
	v := pub.Version
	v.Assets = append([]formats.AssetRef(nil), pub.Version.Assets...)
	if v.Status == "" {
		v.Status = formats.StatusPublished
	}
	if v.Published.IsZero() {
		v.Published = r.now().UTC()
	}
	for i := range v.Assets {
		a := &v.Assets[i]
		body, err := pub.Content(a.Name)
		if err != nil {
			return v, err
		}
		lr := &io.LimitedReader{R: body, N: r.opts.MaxPublishSize + 1}
		sums, err := r.store.WriteBlob(ctx, domain, lr, func(s storage.Sums) error {
			if s.Size > r.opts.MaxPublishSize {
				return fmt.Errorf("%w: %s is larger than %d bytes", formats.ErrTooLarge, a.Name, r.opts.MaxPublishSize)
			}
			if err := checkDigests(*a, s); err != nil {
				return fmt.Errorf("%w: %s does not match its declared digest", formats.ErrInvalid, a.Name)
			}
			return nil
		})
		if err != nil {
			return v, err
		}
		a.Digests = formats.Digests{SHA512: sums.SHA512, SHA256: sums.SHA256, SHA1: sums.SHA1, MD5: sums.MD5}
		a.Size = sums.Size
	}
	return v, nil
}

// mergePublished adds published assets to a version the repository holds
// (pub.Merge). It reports whether anything changed: the same files again
// are an idempotent success.
func (r *Resolver) mergePublished(p formats.Package, cur *VersionRecord, assets []formats.AssetRef, pub formats.Publication) (*VersionRecord, bool, error) {
	ver := pub.Version.Version
	merged, changed, err := mergeAssets(&cur.Version, assets)
	if err != nil {
		return nil, false, fmt.Errorf("%w: version %s of %s: %v", formats.ErrConflict, ver, r.displayName(p), err)
	}
	if !changed && pub.Version.Meta == nil && (pub.Version.Status == "" || pub.Version.Status == cur.Status) {
		return nil, false, nil
	}
	vrec := *cur
	vrec.Assets = merged
	if pub.Version.Meta != nil {
		vrec.Meta = pub.Version.Meta
	}
	if pub.Version.Status != "" {
		if cur.Status != formats.StatusUnfinished && pub.Version.Status != cur.Status {
			return nil, false, fmt.Errorf("%w: version %s of %s is %s and cannot become %s by publishing", formats.ErrConflict, ver, r.displayName(p), cur.Status, pub.Version.Status)
		}
		vrec.Status = pub.Version.Status
	}
	return &vrec, true, nil
}

// publishedPackage returns the package record after a publish: rec (a new
// one when nil) marked internal, with the publication's tags and fields.
func publishedPackage(rec *PackageRecord, p formats.Package, pub formats.Publication, now time.Time) *PackageRecord {
	if rec == nil {
		rec = &PackageRecord{Package: p}
	}
	if rec.Origin.Publish == "" {
		// The first version arrived by publishing: publish ALLOW, upstream BLOCK.
		rec.Origin = OriginConfig{Publish: Allow, Upstream: Block}
	}
	rec.Internal = true
	if len(pub.Tags) > 0 {
		if rec.Tags == nil {
			rec.Tags = map[string]string{}
		}
		maps.Copy(rec.Tags, pub.Tags)
	}
	if pub.Extra != nil {
		rec.Extra = pub.Extra
	}
	rec.Updated = now
	return rec
}

// UpdatePackage implements formats.Resolver.
func (r *Resolver) UpdatePackage(ctx context.Context, ref formats.RepoRef, p formats.Package, fn func(*formats.PackageState) error) error {
	repo, err := r.registry.Repository(ref.Domain, ref.Repository)
	if err != nil {
		return err
	}
	unlock := r.locks.Lock(genKey(ref.Domain, p))
	defer unlock()
	rec, err := r.loadPackage(ctx, ref.Domain, repo.ID, p)
	if err != nil {
		return err
	}
	if rec == nil {
		// Tags or package fields alone set no origin controls: those come
		// with the first version.
		rec = &PackageRecord{Package: p}
	}
	st := &formats.PackageState{Tags: maps.Clone(rec.Tags), Extra: rec.Extra}
	if st.Tags == nil {
		st.Tags = map[string]string{}
	}
	if err := fn(st); err != nil {
		return err
	}
	rec.Tags, rec.Extra, rec.Updated = st.Tags, st.Extra, r.now().UTC()
	m, err := mutation(pkgKey(ref.Domain, repo.ID, p), rec)
	if err != nil {
		return err
	}
	if err := r.store.Apply(ctx, []storage.Mutation{m}); err != nil {
		return err
	}
	r.touch(ref.Domain, p)
	return nil
}

// UpdateVersion implements formats.Resolver.
func (r *Resolver) UpdateVersion(ctx context.Context, ref formats.RepoRef, p formats.Package, version string, fn func(*formats.Version) error) error {
	repo, rec, unlock, err := r.lockVersion(ctx, ref, p, version)
	defer unlock()
	if err != nil {
		return err
	}
	if err := fn(&rec.Version); err != nil {
		return err
	}
	rec.Version.Version = version
	rec.Revision = Revision(&rec.Version)
	m, err := mutation(verKey(ref.Domain, repo.ID, p, version), rec)
	if err != nil {
		return err
	}
	muts := []storage.Mutation{m}
	// A change made by a client in the repository a version was published
	// to (a yank, a deprecation) reaches the copies retained downstream:
	// they are references to that version, not forks of it.
	if rec.Origin.Type == OriginInternal && rec.Origin.Repository == ref.Repository {
		repos, err := r.registry.Repositories(ref.Domain)
		if err != nil {
			return err
		}
		for _, other := range repos {
			if other.ID == repo.ID {
				continue
			}
			cp, err := r.loadVersion(ctx, ref.Domain, other.ID, p, version)
			if err != nil {
				return err
			}
			if cp == nil || cp.Origin != rec.Origin || cp.Status == formats.StatusDisposed {
				continue
			}
			cp.Status, cp.Meta, cp.Revision = rec.Status, rec.Meta, Revision(&cp.Version)
			if muts, err = appendMutation(muts, verKey(ref.Domain, other.ID, p, version), cp); err != nil {
				return err
			}
		}
	}
	if err := r.store.Apply(ctx, muts); err != nil {
		return err
	}
	r.touch(ref.Domain, p)
	return nil
}

// lockVersion takes p's lock and reads version's record in the repository
// ref names: a version it does not hold is not found. unlock releases the
// lock, if it was taken; call it also on an error.
func (r *Resolver) lockVersion(ctx context.Context, ref formats.RepoRef, p formats.Package, version string) (repo model.Repository, rec *VersionRecord, unlock func(), err error) {
	repo, err = r.registry.Repository(ref.Domain, ref.Repository)
	if err != nil {
		return repo, nil, func() {}, err
	}
	unlock = r.locks.Lock(genKey(ref.Domain, p))
	rec, err = r.loadVersion(ctx, ref.Domain, repo.ID, p, version)
	if err == nil && rec == nil {
		err = fmt.Errorf("%w: version %s of %s is not in repository %s", formats.ErrNotFound, version, r.displayName(p), ref.Repository)
	}
	return repo, rec, unlock, err
}

// DeleteVersion implements formats.Resolver.
func (r *Resolver) DeleteVersion(ctx context.Context, ref formats.RepoRef, p formats.Package, version string) error {
	repo, _, unlock, err := r.lockVersion(ctx, ref, p, version)
	defer unlock()
	if err != nil {
		return err
	}
	if err := r.deleteRecord(ctx, verKey(ref.Domain, repo.ID, p, version)); err != nil {
		return err
	}
	r.touch(ref.Domain, p)
	return nil
}

// Packages implements formats.Resolver.
func (r *Resolver) Packages(ctx context.Context, ref formats.RepoRef, format string) ([]formats.Package, error) {
	steps, err := r.registry.Walk(ref.Domain, ref.Repository)
	if err != nil {
		return nil, err
	}
	seen := map[formats.Package]bool{}
	var out []formats.Package
	for _, st := range steps {
		if st.External {
			continue
		}
		recs, err := r.PackageRecords(ctx, ref.Domain, st.Repo.ID, format)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			if !seen[rec.Package] {
				seen[rec.Package] = true
				out = append(out, rec.Package)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Upstream implements formats.Resolver.
func (r *Resolver) Upstream(ctx context.Context, ref formats.RepoRef, format string) (formats.Getter, error) {
	steps, err := r.registry.Walk(ref.Domain, ref.Repository)
	if err != nil {
		return nil, err
	}
	for _, st := range steps {
		if !st.External {
			continue
		}
		conn, err := r.conn(st, format)
		if err != nil {
			return nil, err
		}
		if conn != nil {
			return &getter{r: r, conn: conn}, nil
		}
	}
	return nil, fmt.Errorf("%w: repository %s reaches no %s external connection", formats.ErrNotFound, ref.Repository, format)
}

// mergeAssets adds assets to a version's: a name already present must carry
// the same bytes.
func mergeAssets(cur *formats.Version, add []formats.AssetRef) ([]formats.AssetRef, bool, error) {
	out := append([]formats.AssetRef(nil), cur.Assets...)
	changed := false
	for _, a := range add {
		if old := cur.Asset(a.Name); old != nil {
			if old.Digests.SHA256 != a.Digests.SHA256 {
				return nil, false, fmt.Errorf("a different %s is already published", a.Name)
			}
			continue
		}
		out = append(out, a)
		changed = true
	}
	return out, changed, nil
}
