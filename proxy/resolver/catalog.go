package resolver

import (
	"context"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/storage"
)

// PackageRecords lists the package records of one repository (by id), of
// one format or of all when format is empty, in key order. The control
// plane reads repositories through it: it ignores upstreams, as
// CodeArtifact's package APIs do.
func (r *Resolver) PackageRecords(ctx context.Context, domain, repoID, format string) ([]*PackageRecord, error) {
	prefix, err := storage.RepositoryPackagesPrefix(domain, repoID, format)
	if err != nil {
		return nil, err
	}
	return scanRecords[PackageRecord](ctx, r.store, prefix, "package")
}

// PackageRecord returns one repository's record of p, or nil.
func (r *Resolver) PackageRecord(ctx context.Context, domain, repoID string, p formats.Package) (*PackageRecord, error) {
	return r.loadPackage(ctx, domain, repoID, p)
}

// VersionRecords lists the versions one repository holds of p.
func (r *Resolver) VersionRecords(ctx context.Context, domain, repoID string, p formats.Package) ([]*VersionRecord, error) {
	return r.loadVersions(ctx, domain, repoID, p)
}

// VersionRecord returns the version one repository holds, or nil.
func (r *Resolver) VersionRecord(ctx context.Context, domain, repoID string, p formats.Package, version string) (*VersionRecord, error) {
	return r.loadVersion(ctx, domain, repoID, p, version)
}

// DeleteRepositoryContents removes every package and version record of a
// repository (the bytes stay while other records refer to them).
func (r *Resolver) DeleteRepositoryContents(ctx context.Context, domain, repoID string) error {
	packages, err := storage.RepositoryPackagesPrefix(domain, repoID, "")
	if err != nil {
		return err
	}
	versions, err := storage.RepositoryVersionsPrefix(domain, repoID)
	if err != nil {
		return err
	}
	for _, prefix := range [][]byte{packages, versions} {
		var keys [][]byte
		err := r.store.Scan(ctx, prefix, func(k, _ []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := r.store.Delete(ctx, k); err != nil {
				return err
			}
		}
	}
	// Rendered views are rebuilt: deleting the repository changes the
	// model's generation.
	return nil
}
