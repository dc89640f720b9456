package resolver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// An asset request runs in three steps, one file each: look-up (this file)
// decides from the hot cache, the repository's own record or the walk where
// the bytes are, and returns a plan; fetch (fetch.go) brings bytes the plan
// says are not stored yet, once however many clients ask; serve (serve.go)
// writes stored bytes to the client.

// ServeAsset implements formats.Resolver.
func (r *Resolver) ServeAsset(w http.ResponseWriter, req *http.Request, ref formats.RepoRef, p formats.Package, version, name string) error {
	blob, mod, err := r.asset(req.Context(), w, req, ref, p, version, name)
	if err != nil || blob == nil {
		return err // nil when the bytes were streamed while fetched
	}
	return serveBlob(w, req, blob, mod)
}

// Open implements formats.Resolver.
func (r *Resolver) Open(ctx context.Context, ref formats.RepoRef, p formats.Package, version, name string) (formats.Content, error) {
	blob, _, err := r.asset(ctx, nil, nil, ref, p, version, name)
	if err != nil {
		return nil, err
	}
	return &content{Blob: blob}, nil
}

// content shows a stored blob as formats.Content.
type content struct {
	storage.Blob
	mu sync.Mutex // serialises ReadAt's seek and read on blobs without ReadAt
}

func (c *content) Sums() formats.Sums { return formats.Sums(c.Blob.Sums()) }

// ReadAt implements io.ReaderAt: the blob's own, or a seek and a read.
func (c *content) ReadAt(p []byte, off int64) (int, error) {
	if ra, ok := c.Blob.(io.ReaderAt); ok {
		return ra.ReadAt(p, off)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.Blob.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(c.Blob, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// assetPlan is what the look-up decided: serve bytes already stored (blob
// is set), or fetch them through conn.
type assetPlan struct {
	blob storage.Blob
	mod  time.Time
	// hot, when set, is where the hot cache should remember blob, at hotKey;
	// own and ownAsset are the requested repository's record and asset it
	// came from, fetched again when the bytes turn out corrupt.
	hot    *hotAsset
	hotKey string
	// marked: served from the hot cache, whose entry says the package's
	// request was already noted.
	marked   bool
	own      *VersionRecord
	ownAsset *formats.AssetRef

	vv    *formats.ViewVersion // the version to retain once fetched
	asset formats.AssetRef
	conn  *upstream.Conn
	steps []model.Step
}

// asset finds an asset, fetching and retaining it when needed, and returns
// it open. With a response writer, the client that starts a fetch is
// streamed to while the bytes are written; the blob is nil then, and the
// response complete.
func (r *Resolver) asset(ctx context.Context, w http.ResponseWriter, req *http.Request, ref formats.RepoRef, p formats.Package, version, name string) (storage.Blob, time.Time, error) {
	if err := CheckNames(ref.Domain, p, version, name); err != nil {
		return nil, time.Time{}, err
	}
	if err := r.checkBlocked(ctx, ref, p, version); err != nil {
		return nil, time.Time{}, err
	}
	if err := r.checkRetainedHeld(ctx, ref, p, version); err != nil {
		return nil, time.Time{}, err
	}
	plan, err := r.lookup(ctx, ref, p, version, name)
	if err != nil {
		return nil, time.Time{}, err
	}
	if plan.hot != nil {
		blob, err := r.remember(ctx, plan.hotKey, *plan.hot, plan.blob)
		if errors.Is(err, errCorrupt) {
			// Never served: taken out, then fetched again.
			if err := r.takeOut(ctx, ref.Domain, plan.hot.sums, "read"); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return nil, time.Time{}, err
			}
			plan, err = r.refetchOwn(plan.own, plan.ownAsset, plan.steps, plan.ownAsset.Name)
		} else {
			plan.blob = blob
		}
		if err != nil {
			return nil, time.Time{}, err
		}
	}
	if plan.blob == nil {
		return r.fetchAsset(ctx, w, req, ref, p, plan)
	}
	setOutcome(ctx, "hit")
	r.obs.Cache(p.Format, "hit")
	if w != nil && !plan.marked {
		// A client's request served from what is stored: the package was
		// requested again (Open, the interface's and control plane's
		// reads, does not count).
		r.noteRequested(ref.Domain, p, plan.hotKey)
	}
	return plan.blob, plan.mod, nil
}

// lookup decides where the bytes of an asset come from, warmest first: the
// hot cache, the requested repository's own record, then the walk.
func (r *Resolver) lookup(ctx context.Context, ref formats.RepoRef, p formats.Package, version, name string) (*assetPlan, error) {
	// Generations are read before anything else, so an entry remembered
	// below can only be older than the state it describes, never newer.
	key := hotKey(ref.Domain, ref.Repository, p, version, name)
	regGen, pkgGen := r.registry.Generation(), r.generation(ref.Domain, p)
	if blob, mod, marked := r.hot(ctx, key, ref.Domain, p); blob != nil {
		return &assetPlan{blob: blob, mod: mod, hotKey: key, marked: marked}, nil
	}
	steps, err := r.registry.Walk(ref.Domain, ref.Repository)
	if err != nil {
		return nil, err
	}
	rec, err := r.loadVersion(ctx, ref.Domain, steps[0].Repo.ID, p, version)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return r.lookupWalk(ctx, ref, p, steps, version, name)
	}
	plan, err := r.lookupOwn(ctx, ref, p, steps, rec, version, name)
	if err == nil && plan.blob != nil {
		plan.hotKey = key
		plan.hot = &hotAsset{sums: plan.blob.Sums(), mod: rec.Published, regGen: regGen, pkgGen: pkgGen}
	}
	return plan, err
}

// lookupOwn plans an asset of a version the requested repository holds.
func (r *Resolver) lookupOwn(ctx context.Context, ref formats.RepoRef, p formats.Package, steps []model.Step, rec *VersionRecord, version, name string) (*assetPlan, error) {
	if !rec.Status.Downloadable() {
		return nil, fmt.Errorf("%w: version %s of %s is %s", formats.ErrNotFound, version, r.displayName(p), rec.Status)
	}
	a, err := r.findAsset(ctx, &rec.Version, rec.Origin.Connection, p, version, name)
	if err != nil {
		return nil, err
	}
	blob, err := r.openStored(ctx, ref.Domain, a)
	if err != nil {
		return nil, err
	}
	if blob != nil {
		return &assetPlan{blob: blob, mod: rec.Published, own: rec, ownAsset: a, steps: steps}, nil
	}
	return r.refetchOwn(rec, a, steps, name)
}

// refetchOwn plans fetching an asset the requested repository records but
// does not store (never fetched, disposed of, or found corrupt) from where
// the version came from.
func (r *Resolver) refetchOwn(rec *VersionRecord, a *formats.AssetRef, steps []model.Step, name string) (*assetPlan, error) {
	if rec.Origin.Connection == "" || a.URL == "" {
		return nil, fmt.Errorf("%w: the bytes of %s are no longer stored", formats.ErrNotFound, name)
	}
	vv := &formats.ViewVersion{Version: rec.Version, Repository: steps[0].Repo.Name}
	if vv.Asset(name) == nil {
		vv.Assets = append(append([]formats.AssetRef(nil), vv.Assets...), *a)
	}
	return r.fetchPlan(rec.Origin.Connection, vv, *a, steps)
}

// lookupWalk plans an asset of a version found through the walk: held by an
// upstream repository, or offered by an external connection.
func (r *Resolver) lookupWalk(ctx context.Context, ref formats.RepoRef, p formats.Package, steps []model.Step, version, name string) (*assetPlan, error) {
	vv, err := r.findVersion(ctx, ref, p, steps, version, name)
	if err != nil {
		return nil, err
	}
	if !vv.Status.Downloadable() {
		return nil, fmt.Errorf("%w: version %s of %s is %s", formats.ErrNotFound, version, r.displayName(p), vv.Status)
	}
	a, err := r.findAsset(ctx, &vv.Version, vv.Connection, p, version, name)
	if err != nil {
		return nil, err
	}
	if vv.Asset(name) == nil {
		vv.Assets = append(append([]formats.AssetRef(nil), vv.Assets...), *a)
	}
	if vv.Connection != "" {
		return r.fetchPlan(vv.Connection, vv, *a, steps)
	}
	// Held by an upstream repository: retain a reference here and serve.
	holder := r.repoByName(steps, vv.Repository)
	blob, err := r.openStored(ctx, ref.Domain, a)
	if err != nil {
		return nil, err
	}
	if blob != nil {
		origin, err := r.originOf(ctx, ref.Domain, holder, p, version)
		if err == nil {
			err = r.retain(ctx, ref.Domain, p, vv.Version, origin, steps[0].Repo)
		}
		if err != nil {
			blob.Close()
			return nil, err
		}
		return &assetPlan{blob: blob, mod: vv.Published}, nil
	}
	hrec, err := r.loadVersion(ctx, ref.Domain, holder.ID, p, version)
	if err != nil {
		return nil, err
	}
	if hrec == nil || hrec.Origin.Connection == "" || a.URL == "" {
		return nil, fmt.Errorf("%w: the bytes of %s are no longer stored", formats.ErrNotFound, name)
	}
	return r.fetchPlan(hrec.Origin.Connection, vv, *a, steps)
}

// findVersion finds a version through the walk, revalidating once before a
// 404.
func (r *Resolver) findVersion(ctx context.Context, ref formats.RepoRef, p formats.Package, steps []model.Step, version, name string) (*formats.ViewVersion, error) {
	res, err := r.view(ctx, ref, p, false)
	if err == nil && !hasVersion(res, version) && !formats.IsFresh(ctx) {
		res, err = r.view(formats.Fresh(ctx), ref, p, false)
	}
	if err != nil {
		return nil, err
	}
	vv := res.view.Versions[version]
	if vv == nil {
		if vv, err = r.heldFile(ref, p, res, version); err != nil {
			return nil, err
		}
	}
	if vv == nil && !res.internal {
		// Some upstream metadata does not list every version it serves
		// (old Maven artifacts): a locating format may still find the file.
		vv, err = r.locateUnlisted(ctx, ref, steps, p, version, name)
		if err != nil {
			return nil, err
		}
	}
	if vv == nil {
		return nil, fmt.Errorf("%w: version %s of %s is not in repository %s or its upstreams", formats.ErrNotFound, version, r.displayName(p), ref.Repository)
	}
	return vv, nil
}

// findAsset returns the named asset of v, asking a locating format through
// the connection v came from when v's metadata does not list it.
func (r *Resolver) findAsset(ctx context.Context, v *formats.Version, connName string, p formats.Package, version, name string) (*formats.AssetRef, error) {
	a := v.Asset(name)
	if a == nil && connName != "" {
		var err error
		if a, err = r.locate(ctx, connName, p, version, name); err != nil {
			return nil, err
		}
	}
	if a == nil {
		return nil, fmt.Errorf("%w: version %s of %s has no asset %s", formats.ErrNotFound, version, r.displayName(p), name)
	}
	return a, nil
}

// openStored opens the stored bytes of a; it returns nil when they are not
// stored.
func (r *Resolver) openStored(ctx context.Context, domain string, a *formats.AssetRef) (storage.Blob, error) {
	if a.Digests.SHA256 == "" {
		return nil, nil
	}
	blob, err := r.store.OpenBlob(ctx, domain, a.Digests.SHA256)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return blob, err
}

// fetchPlan plans fetching asset a of vv through the named connection.
func (r *Resolver) fetchPlan(connName string, vv *formats.ViewVersion, a formats.AssetRef, steps []model.Step) (*assetPlan, error) {
	conn, err := r.client.Conn(connName)
	if err != nil {
		return nil, err
	}
	vv.Connection = conn.Name()
	return &assetPlan{vv: vv, asset: a, conn: conn, steps: steps}, nil
}

func hasVersion(res *viewResult, version string) bool {
	_, ok := res.view.Versions[version]
	_, held := res.held[version]
	return ok || held
}

func (r *Resolver) repoByName(steps []model.Step, name string) model.Repository {
	for _, s := range steps {
		if s.Repo.Name == name {
			return s.Repo
		}
	}
	return steps[0].Repo
}

// originOf returns the origin recorded for a version held by repo.
func (r *Resolver) originOf(ctx context.Context, domain string, repo model.Repository, p formats.Package, version string) (VersionOrigin, error) {
	rec, err := r.loadVersion(ctx, domain, repo.ID, p, version)
	if err != nil {
		return VersionOrigin{}, err
	}
	if rec == nil {
		return VersionOrigin{Type: OriginInternal, Repository: repo.Name}, nil
	}
	return rec.Origin, nil
}

// locate asks an AssetLocator format for a file its metadata does not list.
// It returns nil when the format cannot locate files.
func (r *Resolver) locate(ctx context.Context, connName string, p formats.Package, version, name string) (*formats.AssetRef, error) {
	f, err := r.format(p.Format)
	if err != nil {
		return nil, err
	}
	l, ok := f.(formats.AssetLocator)
	if !ok {
		return nil, nil
	}
	conn, err := r.client.Conn(connName)
	if err != nil {
		return nil, err
	}
	a, err := l.LocateAsset(ctx, &getter{r: r, conn: conn}, p, version, name)
	if errors.Is(err, formats.ErrNotFound) {
		return nil, fmt.Errorf("%w: version %s of %s has no file %s", formats.ErrNotFound, version, r.displayName(p), name)
	}
	return a, err
}

// locateUnlisted asks the external connections of the walk, in order, for a
// file of a version their metadata does not list. It returns nil when the
// format cannot locate files or no connection has it.
func (r *Resolver) locateUnlisted(ctx context.Context, ref formats.RepoRef, steps []model.Step, p formats.Package, version, name string) (*formats.ViewVersion, error) {
	if _, ok := r.formats[p.Format].(formats.AssetLocator); !ok {
		return nil, nil
	}
	rules, err := r.groupRules(ref.Domain, p, steps[0].Repo.Name)
	if err != nil {
		return nil, err
	}
	if rec, err := r.loadPackage(ctx, ref.Domain, steps[0].Repo.ID, p); err != nil || (rec != nil && rec.Origin.Upstream == Block) {
		return nil, err
	}
	for _, st := range steps {
		if !st.External || !rules.externalFor(st.Repo.Name) || (!rules.internal && st.Repo.ID != steps[0].Repo.ID) {
			continue
		}
		conn, err := r.conn(st, p.Format)
		if err != nil || conn == nil {
			continue
		}
		a, err := r.locate(ctx, conn.Name(), p, version, name)
		if errors.Is(err, formats.ErrNotFound) || (err == nil && a == nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &formats.ViewVersion{Version: formats.Version{Version: version, Status: formats.StatusPublished, Assets: []formats.AssetRef{*a}},
			Repository: st.Repo.Name, Connection: conn.Name()}, nil
	}
	return nil, nil
}
