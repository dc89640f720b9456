package resolver

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/storage"
)

// The methods below are the control plane's direct access to one
// repository's records. They ignore upstreams, as CodeArtifact's package APIs
// do, and every change they make is visible to package managers at once.

// UpdateRecords runs fn while it holds p's lock in domain; fn changes p's
// records through w, which refuses every write once fn has returned. So
// the control plane's writes are always serialised with the engine's own
// (publish, retain) by construction, not by a comment.
func (r *Resolver) UpdateRecords(ctx context.Context, domain string, p formats.Package, fn func(w *Records) error) error {
	unlock := r.locks.Lock(genKey(domain, p))
	defer unlock()
	w := &Records{r: r, domain: domain, p: p}
	defer w.closed.Store(true)
	return fn(w)
}

// Records writes one package's records in one domain, for UpdateRecords.
type Records struct {
	r      *Resolver
	domain string
	p      formats.Package
	closed atomic.Bool
}

// errRecordsClosed is a write through Records after UpdateRecords returned.
var errRecordsClosed = errors.New("resolver: package records written without the package's lock")

func (w *Records) check() error {
	if w.closed.Load() {
		return errRecordsClosed
	}
	return nil
}

// PutVersion writes a version record in repository repoID, recomputing its
// revision; the repository gets a package record when it has none.
func (w *Records) PutVersion(ctx context.Context, repoID string, rec *VersionRecord) error {
	if err := w.check(); err != nil {
		return err
	}
	r, domain, p := w.r, w.domain, w.p
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

// DeleteVersion removes a version record from repository repoID.
func (w *Records) DeleteVersion(ctx context.Context, repoID, version string) error {
	if err := w.check(); err != nil {
		return err
	}
	if err := w.r.deleteRecord(ctx, verKey(w.domain, repoID, w.p, version)); err != nil {
		return fmt.Errorf("delete version record: %w", err)
	}
	w.r.touch(w.domain, w.p)
	return nil
}

// PutPackage writes the package record of repository repoID.
func (w *Records) PutPackage(ctx context.Context, repoID string, rec *PackageRecord) error {
	if err := w.check(); err != nil {
		return err
	}
	rec.Updated = w.r.now().UTC()
	m, err := mutation(pkgKey(w.domain, repoID, w.p), rec)
	if err != nil {
		return err
	}
	if err := w.r.store.Apply(ctx, []storage.Mutation{m}); err != nil {
		return fmt.Errorf("write package record: %w", err)
	}
	w.r.touch(w.domain, w.p)
	return nil
}

// DeleteAll removes the package and every version of it from repository
// repoID.
func (w *Records) DeleteAll(ctx context.Context, repoID string) error {
	if err := w.check(); err != nil {
		return err
	}
	r, domain, p := w.r, w.domain, w.p
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
