package resolver

import (
	"context"
	"fmt"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/storage"
)

// The methods below are the control plane's direct access to one
// repository's records. They ignore upstreams, as CodeArtifact's package APIs
// do, and every change they make is visible to package managers at once.

// LockPackage serialises changes to p in domain; call the returned function
// to release.
func (r *Resolver) LockPackage(domain string, p formats.Package) func() {
	return r.pkgLocks.lock(genKey(domain, p))
}

// PutVersionRecord writes a version record (the caller holds LockPackage),
// recomputing its revision.
func (r *Resolver) PutVersionRecord(ctx context.Context, domain, repoID string, p formats.Package, rec *VersionRecord) error {
	rec.Revision = Revision(&rec.Version)
	m, err := mutation(verKey(domain, repoID, p, rec.Version.Version), rec)
	if err != nil {
		return err
	}
	muts := []storage.Mutation{m}
	// A repository holding a version has a package record.
	cur, err := r.loadPackage(ctx, domain, repoID, p)
	if err != nil {
		return err
	}
	if cur == nil {
		pr := &PackageRecord{Package: p, Origin: OriginConfig{Publish: Block, Upstream: Allow}, Updated: r.now().UTC()}
		if rec.Origin.Type == OriginInternal {
			pr.Origin = OriginConfig{Publish: Allow, Upstream: Block}
			pr.Internal = true
		}
		pm, err := mutation(pkgKey(domain, repoID, p), pr)
		if err != nil {
			return err
		}
		muts = append(muts, pm)
	} else if rec.Origin.Type == OriginInternal && !cur.Internal {
		cur.Internal = true
		pm, err := mutation(pkgKey(domain, repoID, p), cur)
		if err != nil {
			return err
		}
		muts = append(muts, pm)
	}
	if err := r.store.Apply(ctx, muts); err != nil {
		return fmt.Errorf("write version record: %w", err)
	}
	r.touch(domain, p)
	return nil
}

// DeleteVersionRecord removes a version record (the caller holds LockPackage).
func (r *Resolver) DeleteVersionRecord(ctx context.Context, domain, repoID string, p formats.Package, version string) error {
	if err := r.deleteRecord(ctx, verKey(domain, repoID, p, version)); err != nil {
		return fmt.Errorf("delete version record: %w", err)
	}
	r.touch(domain, p)
	return nil
}

// PutPackageRecord writes a package record (the caller holds LockPackage).
func (r *Resolver) PutPackageRecord(ctx context.Context, domain, repoID string, rec *PackageRecord) error {
	rec.Updated = r.now().UTC()
	m, err := mutation(pkgKey(domain, repoID, rec.Package), rec)
	if err != nil {
		return err
	}
	if err := r.store.Apply(ctx, []storage.Mutation{m}); err != nil {
		return fmt.Errorf("write package record: %w", err)
	}
	r.touch(domain, rec.Package)
	return nil
}

// DeletePackageRecords removes a package and every version of it from one
// repository (the caller holds LockPackage).
func (r *Resolver) DeletePackageRecords(ctx context.Context, domain, repoID string, p formats.Package) error {
	key, err := pkgKey(domain, repoID, p).Bytes()
	if err != nil {
		return err
	}
	prefix, err := pkgKey(domain, repoID, p).VersionsPrefix()
	if err != nil {
		return err
	}
	var muts []storage.Mutation
	err = r.store.Scan(ctx, prefix, func(k, _ []byte) error {
		muts = append(muts, storage.Mutation{Key: append([]byte(nil), k...)})
		return nil
	})
	if err != nil {
		return err
	}
	muts = append(muts, storage.Mutation{Key: key})
	for len(muts) > 0 {
		n := min(len(muts), 1000)
		if err := r.store.Apply(ctx, muts[:n]); err != nil {
			return fmt.Errorf("delete package: %w", err)
		}
		muts = muts[n:]
	}
	r.touch(domain, p)
	return nil
}

// ViewFrom is View for the control plane (CopyPackageVersions with
// includeFromUpstream), with the versions' origins.
func (r *Resolver) ViewFrom(ctx context.Context, domain, repo string, p formats.Package) (*formats.View, map[string]bool, error) {
	res, err := r.view(ctx, formats.RepoRef{Domain: domain, Repository: repo}, p, false)
	if err != nil {
		return nil, nil, err
	}
	return res.view, res.external, nil
}
