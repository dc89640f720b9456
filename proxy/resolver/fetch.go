package resolver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// fetchJob is one asset to bring from an external connection, and where to
// retain it.
type fetchJob struct {
	domain  string
	p       formats.Package
	vv      *formats.ViewVersion
	asset   formats.AssetRef
	conn    *upstream.Conn
	src     string // the asset's resolved URL
	owner   model.Repository
	origin  VersionOrigin
	targets []model.Repository // the requested repository and, when another, the owner
}

// fetchAsset fetches the planned asset once however many clients ask,
// retains the version, and returns it open. The client that started the
// fetch is streamed to while the bytes are written (the blob is nil then);
// the others are served from storage once the bytes are committed.
func (r *Resolver) fetchAsset(ctx context.Context, w http.ResponseWriter, req *http.Request, ref formats.RepoRef, p formats.Package, plan *assetPlan) (storage.Blob, time.Time, error) {
	var zero time.Time
	a, conn := plan.asset, plan.conn
	setUpstream(ctx, conn.Name())
	src, err := conn.Resolve(a.URL)
	if err != nil {
		return nil, zero, fmt.Errorf("asset %s: %w", a.Name, err)
	}
	job := &fetchJob{
		domain: ref.Domain, p: p, vv: plan.vv, asset: a, conn: conn, src: src,
		owner:   r.repoByName(plan.steps, plan.vv.Repository),
		origin:  VersionOrigin{Type: OriginExternal, Connection: conn.Name()},
		targets: []model.Repository{plan.steps[0].Repo},
	}
	if job.owner.ID != job.targets[0].ID {
		job.targets = append(job.targets, job.owner)
	}
	var t *tap
	if w != nil && req.Method == http.MethodGet && req.Header.Get("Range") == "" {
		t = newTap(w)
	}
	sums, err := r.fetchOnce(ctx, job, t)
	if err != nil {
		return nil, zero, err
	}
	setOutcome(ctx, "miss")
	r.obs.Cache(p.Format, "miss")
	if t.started() {
		return nil, zero, nil // streamed, and retained inside the flight
	}
	// Waiters may come from other repositories: each retains for its own.
	if err := r.retain(ctx, job.domain, p, withSums(job.vv.Version, a.Name, sums), job.origin, job.targets...); err != nil {
		return nil, zero, err
	}
	blob, err := r.store.OpenBlob(ctx, job.domain, sums.SHA256)
	if err != nil {
		return nil, zero, err
	}
	return blob, job.vv.Published, nil
}

// fetchOnce runs job in a flight shared by every client asking for the same
// bytes through the same connection, streaming to t when t is not nil, and
// returns what was stored. A client leaving does not stop the flight.
func (r *Resolver) fetchOnce(ctx context.Context, job *fetchJob, t *tap) (storage.Sums, error) {
	key := job.domain + "\x00" + job.conn.Name() + "\x00" + job.src
	ch := r.assetFlights.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.FetchTimeout)
		defer cancel()
		defer r.clusterLock(fctx, "fetch/"+job.domain+"/"+job.conn.Name()+"/"+job.src)()
		// A flight that ended just before this one started, here or on
		// another replica, may have committed the bytes already: do not
		// fetch them twice.
		if sums, ok := r.alreadyFetched(fctx, job.domain, job.owner, job.p, job.vv.Version.Version, job.asset.Name); ok {
			return sums, nil
		}
		sums, err := r.fetch(fctx, job.domain, job.conn, job.src, job.asset, t)
		if err != nil {
			t.fail()
			return nil, err
		}
		// Records first, last bytes after: a client that has the whole
		// body finds the version retained.
		if err := r.retain(fctx, job.domain, job.p, withSums(job.vv.Version, job.asset.Name, sums), job.origin, job.targets...); err != nil {
			t.fail()
			return nil, err
		}
		t.release()
		return sums, nil
	})
	if r.opts.FetchWait != nil {
		r.opts.FetchWait()
	}
	select {
	case v := <-ch:
		if v.Err != nil {
			if t.started() {
				// Headers and part of the body are out: all we can do is
				// cut the connection so the client sees a failed transfer.
				panic(http.ErrAbortHandler)
			}
			return storage.Sums{}, v.Err
		}
		return v.Val.(storage.Sums), nil
	case <-ctx.Done():
		t.detach()
		return storage.Sums{}, ctx.Err()
	}
}

// clusterLock takes the lock name across the replicas sharing the store,
// waiting at most opts.ClusterWait, and returns its unlock. Without a
// cluster lock, or when the wait fails (the other replica's fetch is slow,
// or the database is unreachable), it returns a no-op and the caller goes
// on alone: a fetch twice is better than none.
func (r *Resolver) clusterLock(ctx context.Context, name string) (unlock func()) {
	if r.opts.ClusterLock == nil {
		return func() {}
	}
	lctx, cancel := context.WithTimeout(ctx, r.opts.ClusterWait)
	defer cancel()
	unlock, err := r.opts.ClusterLock(lctx, name)
	if err != nil {
		r.log.Warn("no cluster lock for an upstream fetch: fetching without it", "lock", name, "error", err.Error())
		return func() {}
	}
	return unlock
}

// fetch downloads src into the blob store, verified against what the
// metadata declared, copying to t as it goes.
func (r *Resolver) fetch(ctx context.Context, domain string, conn *upstream.Conn, src string, a formats.AssetRef, t *tap) (storage.Sums, error) {
	start := r.now()
	resp, err := conn.Get(ctx, src, upstream.Request{})
	r.obs.Upstream(conn.Name(), r.now().Sub(start), err)
	if err != nil {
		if errors.Is(err, upstream.ErrNotFound) {
			// The metadata offered it, the upstream no longer has it: that is
			// an upstream fault, not absence.
			return storage.Sums{}, fmt.Errorf("upstream %s lists %s but answers 404 for it: %w", conn.Name(), a.Name, upstream.ErrUnavailable)
		}
		return storage.Sums{}, err
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if t != nil {
		t.start(resp.ContentLength, a.Name)
		body = io.TeeReader(resp.Body, t)
	}
	sums, err := r.store.WriteBlob(ctx, domain, body, func(s storage.Sums) error {
		if resp.ContentLength >= 0 && s.Size != resp.ContentLength {
			return fmt.Errorf("upstream %s sent %d of %d bytes of %s: %w", conn.Name(), s.Size, resp.ContentLength, a.Name, upstream.ErrUnavailable)
		}
		return checkDigests(a, s)
	})
	var ie *integrityError
	if errors.As(err, &ie) {
		return storage.Sums{}, ie
	}
	if err != nil {
		return storage.Sums{}, err
	}
	return sums, nil
}

// checkDigests compares what was received with what the metadata declared.
func checkDigests(a formats.AssetRef, s storage.Sums) error {
	d := a.Digests
	for _, c := range []struct{ name, want, got string }{
		{"sha512", d.SHA512, s.SHA512}, {"sha256", d.SHA256, s.SHA256}, {"sha1", d.SHA1, s.SHA1}, {"md5", d.MD5, s.MD5},
	} {
		if c.want != "" && !strings.EqualFold(c.want, c.got) {
			return &integrityError{fmt.Sprintf("%s of %s is %s, the metadata declares %s", c.name, a.Name, c.got, c.want)}
		}
	}
	if a.Size > 0 && a.Size != s.Size {
		return &integrityError{fmt.Sprintf("%s is %d bytes, the metadata declares %d", a.Name, s.Size, a.Size)}
	}
	return nil
}

// integrityError is bytes that disagree with their metadata. It is told to
// clients as it is, without the storage layers it passed through.
type integrityError struct{ msg string }

func (e *integrityError) Error() string        { return formats.ErrIntegrity.Error() + ": " + e.msg }
func (e *integrityError) Is(target error) bool { return target == formats.ErrIntegrity }

// retain writes version into the target repositories: the requested one and,
// for a version fetched through an external connection, the repository that
// owns the connection — never the repositories between. Origin controls
// already filtered the view; a package record with ingest defaults is created
// where there is none. A version already held keeps its origin and status.
func (r *Resolver) retain(ctx context.Context, domain string, p formats.Package, version formats.Version, origin VersionOrigin, targets ...model.Repository) error {
	unlock := r.locks.Lock(genKey(domain, p))
	defer unlock()
	var muts []storage.Mutation
	for _, repo := range targets {
		cur, err := r.loadVersion(ctx, domain, repo.ID, p, version.Version)
		if err != nil {
			return err
		}
		if cur != nil && !assetsChanged(&cur.Version, &version) {
			continue
		}
		rec := VersionRecord{Version: version, Origin: origin}
		if cur != nil {
			// Two files of one version fetched at once each retain the
			// version: keep what either knows.
			rec.Origin, rec.Status = cur.Origin, cur.Status
			rec.Assets = unionAssets(cur.Assets, version.Assets)
		}
		if rec.Published.IsZero() {
			rec.Published = r.now().UTC()
		}
		rec.Revision = Revision(&rec.Version)
		if muts, err = appendMutation(muts, verKey(domain, repo.ID, p, version.Version), rec); err != nil {
			return err
		}
		pr, err := r.loadPackage(ctx, domain, repo.ID, p)
		if err != nil {
			return err
		}
		if pr == nil || pr.Origin.Publish == "" {
			// The first version arrived from upstream: publish BLOCK, upstream ALLOW.
			if pr == nil {
				pr = &PackageRecord{Package: p}
			}
			pr.Origin, pr.Updated = OriginConfig{Publish: Block, Upstream: Allow}, r.now().UTC()
			if muts, err = appendMutation(muts, pkgKey(domain, repo.ID, p), pr); err != nil {
				return err
			}
		}
	}
	if err := r.applyAny(ctx, muts); err != nil || len(muts) == 0 {
		return err
	}
	// A version retained is offered even where a release-age cooldown
	// holds the upstream's copy back: rebuild the package's documents.
	r.touch(domain, p)
	return nil
}

// assetsChanged reports whether next knows digests cur lacks.
func assetsChanged(cur, next *formats.Version) bool {
	for _, a := range next.Assets {
		c := cur.Asset(a.Name)
		if c == nil || (c.Digests.SHA256 == "" && a.Digests.SHA256 != "") {
			return true
		}
	}
	return false
}

// withSums returns v with what was received for the named asset.
func withSums(v formats.Version, name string, sums storage.Sums) formats.Version {
	v.Assets = append([]formats.AssetRef(nil), v.Assets...)
	for i := range v.Assets {
		if v.Assets[i].Name == name {
			v.Assets[i].Digests = formats.Digests{SHA512: sums.SHA512, SHA256: sums.SHA256, SHA1: sums.SHA1, MD5: sums.MD5}
			v.Assets[i].Size = sums.Size
		}
	}
	return v
}

// unionAssets merges two lists of a version's assets, preferring the entry
// that knows the stored bytes (a SHA-256).
func unionAssets(cur, next []formats.AssetRef) []formats.AssetRef {
	out := append([]formats.AssetRef(nil), cur...)
	for _, a := range next {
		found := false
		for i := range out {
			if out[i].Name == a.Name {
				found = true
				if out[i].Digests.SHA256 == "" && a.Digests.SHA256 != "" {
					out[i] = a
				}
			}
		}
		if !found {
			out = append(out, a)
		}
	}
	return out
}

// alreadyFetched reports whether repo holds the asset with its bytes stored.
func (r *Resolver) alreadyFetched(ctx context.Context, domain string, repo model.Repository, p formats.Package, version, name string) (storage.Sums, bool) {
	rec, err := r.loadVersion(ctx, domain, repo.ID, p, version)
	if err != nil || rec == nil {
		return storage.Sums{}, false
	}
	a := rec.Asset(name)
	if a == nil || a.Digests.SHA256 == "" {
		return storage.Sums{}, false
	}
	sums, err := r.store.StatBlob(ctx, domain, a.Digests.SHA256)
	return sums, err == nil
}
