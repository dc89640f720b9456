package resolver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
)

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
	return content{blob}, nil
}

// content shows a stored blob as formats.Content.
type content struct{ storage.Blob }

func (c content) Sums() formats.Sums { return formats.Sums(c.Blob.Sums()) }

// asset finds an asset through the walk, fetching and retaining it when
// needed, and returns it open. With a response writer, the client that
// starts a fetch is streamed to while the bytes are written; the blob is nil
// then, and the response complete.
func (r *Resolver) asset(ctx context.Context, w http.ResponseWriter, req *http.Request, ref formats.RepoRef, p formats.Package, version, name string) (storage.Blob, time.Time, error) {
	var zero time.Time
	if err := CheckNames(ref.Domain, p, version, name); err != nil {
		return nil, zero, err
	}
	// Warmest path: the hot cache knows where the asset is, maybe its bytes.
	// Generations are read before anything else, so an entry remembered
	// below can only be older than the state it describes, never newer.
	key := hotKey(ref.Domain, ref.Repository, p, version, name)
	regGen, pkgGen := r.registry.Generation(), r.generation(ref.Domain, p)
	if blob, mod := r.hot(ctx, key, ref.Domain, p); blob != nil {
		setOutcome(ctx, "hit")
		r.obs.Cache(p.Format, "hit")
		return blob, mod, nil
	}
	steps, err := r.registry.Walk(ref.Domain, ref.Repository)
	if err != nil {
		return nil, zero, err
	}
	requested := steps[0].Repo

	// Warm path: the repository holds the version and the bytes.
	rec, err := r.loadVersion(ctx, ref.Domain, requested.ID, p, version)
	if err != nil {
		return nil, zero, err
	}
	if rec != nil {
		if !rec.Status.Downloadable() {
			return nil, zero, fmt.Errorf("%w: version %s of %s is %s", formats.ErrNotFound, version, displayName(p), rec.Status)
		}
		a := rec.Asset(name)
		if a == nil && rec.Origin.Connection != "" {
			if a, err = r.locate(ctx, rec.Origin.Connection, p, version, name); err != nil {
				return nil, zero, err
			}
		}
		if a == nil {
			return nil, zero, fmt.Errorf("%w: version %s of %s has no asset %s", formats.ErrNotFound, version, displayName(p), name)
		}
		if a.Digests.SHA256 != "" {
			blob, err := r.store.OpenBlob(ctx, ref.Domain, a.Digests.SHA256)
			if err == nil {
				sums := blob.Sums()
				blob, err = r.remember(ctx, key, hotAsset{sums: sums, mod: rec.Published, regGen: regGen, pkgGen: pkgGen}, blob)
				if errors.Is(err, errCorrupt) {
					// Never served: taken out, then fetched again below.
					err = r.takeOut(ctx, ref.Domain, sums, "read")
				} else {
					if err == nil {
						setOutcome(ctx, "hit")
						r.obs.Cache(p.Format, "hit")
					}
					return blob, rec.Published, err
				}
			}
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return nil, zero, err
			}
		}
		// Recorded but never fetched (or disposed of): fetch it from where
		// the version came from.
		if rec.Origin.Connection == "" || a.URL == "" {
			return nil, zero, fmt.Errorf("%w: the bytes of %s are no longer stored", formats.ErrNotFound, name)
		}
		conn, err := r.client.Conn(rec.Origin.Connection)
		if err != nil {
			return nil, zero, err
		}
		vv := &formats.ViewVersion{Version: rec.Version, Repository: requested.Name, Connection: conn.Name()}
		if vv.Asset(name) == nil {
			vv.Assets = append(append([]formats.AssetRef(nil), vv.Assets...), *a)
		}
		return r.fetchAsset(ctx, w, req, ref, p, vv, *a, conn, steps)
	}

	// Find the version through the walk; revalidate once before a 404.
	res, err := r.view(ctx, ref, p, false)
	if err == nil && !hasVersion(res, version) && !formats.IsFresh(ctx) {
		res, err = r.view(formats.Fresh(ctx), ref, p, false)
	}
	if err != nil {
		return nil, zero, err
	}
	vv := res.view.Versions[version]
	if vv == nil && !res.internal {
		// Some upstream metadata does not list every version it serves
		// (old Maven artifacts): a locating format may still find the file.
		vv, err = r.locateUnlisted(ctx, ref, steps, p, version, name)
		if err != nil {
			return nil, zero, err
		}
	}
	if vv == nil {
		return nil, zero, fmt.Errorf("%w: version %s of %s is not in repository %s or its upstreams", formats.ErrNotFound, version, displayName(p), ref.Repository)
	}
	if !vv.Status.Downloadable() {
		return nil, zero, fmt.Errorf("%w: version %s of %s is %s", formats.ErrNotFound, version, displayName(p), vv.Status)
	}
	a := vv.Asset(name)
	if a == nil && vv.Connection != "" {
		if a, err = r.locate(ctx, vv.Connection, p, version, name); err != nil {
			return nil, zero, err
		}
		if a != nil {
			vv.Assets = append(append([]formats.AssetRef(nil), vv.Assets...), *a)
		}
	}
	if a == nil {
		return nil, zero, fmt.Errorf("%w: version %s of %s has no asset %s", formats.ErrNotFound, version, displayName(p), name)
	}
	if vv.Connection == "" {
		// Held by an upstream repository: retain a reference here and serve.
		if a.Digests.SHA256 != "" {
			blob, err := r.store.OpenBlob(ctx, ref.Domain, a.Digests.SHA256)
			if err == nil {
				holder := r.repoByName(steps, vv.Repository)
				origin, err := r.originOf(ctx, ref.Domain, holder, p, version)
				if err != nil {
					blob.Close()
					return nil, zero, err
				}
				if err := r.retain(ctx, ref.Domain, p, vv.Version, origin, requested); err != nil {
					blob.Close()
					return nil, zero, err
				}
				setOutcome(ctx, "hit")
				r.obs.Cache(p.Format, "hit")
				return blob, vv.Published, nil
			}
			if !errors.Is(err, storage.ErrNotFound) {
				return nil, zero, err
			}
		}
		holder := r.repoByName(steps, vv.Repository)
		hrec, err := r.loadVersion(ctx, ref.Domain, holder.ID, p, version)
		if err != nil {
			return nil, zero, err
		}
		if hrec == nil || hrec.Origin.Connection == "" || a.URL == "" {
			return nil, zero, fmt.Errorf("%w: the bytes of %s are no longer stored", formats.ErrNotFound, name)
		}
		conn, err := r.client.Conn(hrec.Origin.Connection)
		if err != nil {
			return nil, zero, err
		}
		vv.Connection = conn.Name()
		return r.fetchAsset(ctx, w, req, ref, p, vv, *a, conn, steps)
	}
	conn, err := r.client.Conn(vv.Connection)
	if err != nil {
		return nil, zero, err
	}
	return r.fetchAsset(ctx, w, req, ref, p, vv, *a, conn, steps)
}

func hasVersion(res *viewResult, version string) bool {
	_, ok := res.view.Versions[version]
	return ok
}

func (r *Resolver) repoByName(steps []model.Step, name string) model.Repository {
	for _, s := range steps {
		if s.Repo.Name == name {
			return s.Repo
		}
	}
	return steps[0].Repo
}

// fetched is what one shared upstream fetch produces.
type fetched struct {
	sums storage.Sums
}

// fetchAsset fetches an asset through conn once however many clients ask,
// retains the version, and serves it. The client that started the fetch is
// streamed to while the bytes are written; the others are served from
// storage once the bytes are committed.
func (r *Resolver) fetchAsset(ctx context.Context, w http.ResponseWriter, req *http.Request, ref formats.RepoRef, p formats.Package, vv *formats.ViewVersion, a formats.AssetRef, conn *upstream.Conn, steps []model.Step) (storage.Blob, time.Time, error) {
	var zero time.Time
	setUpstream(ctx, conn.Name())
	src, err := conn.Resolve(a.URL)
	if err != nil {
		return nil, zero, fmt.Errorf("asset %s: %w", a.Name, err)
	}
	owner := r.repoByName(steps, vv.Repository)
	requested := steps[0].Repo

	var t *tap
	if w != nil && req.Method == http.MethodGet && req.Header.Get("Range") == "" {
		t = newTap(w)
	}
	origin := VersionOrigin{Type: OriginExternal, Connection: conn.Name()}
	targets := []model.Repository{requested}
	if owner.ID != requested.ID {
		targets = append(targets, owner)
	}
	key := ref.Domain + "\x00" + conn.Name() + "\x00" + src
	ch := r.assetFlights.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.FetchTimeout)
		defer cancel()
		// A flight that ended just before this one started may have
		// committed the bytes already: do not fetch them twice.
		if sums, ok := r.alreadyFetched(fctx, ref.Domain, owner, p, vv.Version.Version, a.Name); ok {
			return &fetched{sums: sums}, nil
		}
		sums, err := r.fetch(fctx, ref.Domain, conn, src, a, t)
		if err != nil {
			t.fail()
			return nil, err
		}
		// Records first, last bytes after: a client that has the whole
		// body finds the version retained.
		if err := r.retain(fctx, ref.Domain, p, withSums(vv.Version, a.Name, sums), origin, targets...); err != nil {
			t.fail()
			return nil, err
		}
		t.release()
		return &fetched{sums: sums}, nil
	})
	var res singleflightResult
	select {
	case v := <-ch:
		res = singleflightResult{v.Val, v.Err}
	case <-ctx.Done():
		t.detach()
		return nil, zero, ctx.Err()
	}
	if res.err != nil {
		if t.started() {
			// Headers and part of the body are out: all we can do is cut
			// the connection so the client sees a failed transfer.
			panic(http.ErrAbortHandler)
		}
		return nil, zero, res.err
	}
	f := res.val.(*fetched)
	setOutcome(ctx, "miss")
	r.obs.Cache(p.Format, "miss")
	if t.started() {
		return nil, zero, nil // streamed, and retained inside the flight
	}
	// Waiters may come from other repositories: each retains for its own.
	if err := r.retain(ctx, ref.Domain, p, withSums(vv.Version, a.Name, f.sums), origin, targets...); err != nil {
		return nil, zero, err
	}
	blob, err := r.store.OpenBlob(ctx, ref.Domain, f.sums.SHA256)
	if err != nil {
		return nil, zero, err
	}
	return blob, vv.Published, nil
}

type singleflightResult struct {
	val any
	err error
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
	unlock := r.pkgLocks.lock(genKey(domain, p))
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
		m, err := mutation(verKey(domain, repo.ID, p, version.Version), rec)
		if err != nil {
			return err
		}
		muts = append(muts, m)
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
			m, err := mutation(pkgKey(domain, repo.ID, p), pr)
			if err != nil {
				return err
			}
			muts = append(muts, m)
		}
	}
	if len(muts) == 0 {
		return nil
	}
	return r.store.Apply(ctx, muts)
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

func serveBlob(w http.ResponseWriter, req *http.Request, blob storage.Blob, mod time.Time) error {
	defer blob.Close()
	s := blob.Sums()
	h := w.Header()
	h.Set("ETag", `"`+s.SHA256+`"`)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("X-Checksum-Sha256", s.SHA256)
	// The common case, a whole blob with no conditions, is one write from
	// memory or one sendfile; everything else (ranges, validators) goes
	// through ServeContent.
	plain := req.Header.Get("Range") == "" && req.Header.Get("If-None-Match") == "" &&
		req.Header.Get("If-Modified-Since") == "" && req.Header.Get("If-Range") == ""
	hb, hot := blob.(hotBlob)
	var sw *sendfileWriter
	f, inFile := blob.(filer)
	if inFile {
		sw = newSendfileWriter(w)
	}
	switch {
	case plain && (hot || sw != nil):
		h.Set("Content-Length", strconv.FormatInt(s.Size, 10))
		if !mod.IsZero() {
			h.Set("Last-Modified", mod.UTC().Format(http.TimeFormat))
		}
		w.WriteHeader(http.StatusOK)
		switch {
		case req.Method == http.MethodHead:
		case hot:
			_, _ = hb.WriteTo(w)
		default:
			// Headers out first, so that the connection's ReadFrom sends
			// the whole file instead of copying its start.
			_ = http.NewResponseController(w).Flush()
			_, _ = sw.ReadFrom(io.LimitReader(f.File(), s.Size))
			addSent(req.Context(), sw.n)
		}
	case sw != nil:
		http.ServeContent(sw, req, "", mod, f.File())
		addSent(req.Context(), sw.n)
	default:
		http.ServeContent(w, req, "", mod, blob)
	}
	return nil
}

// filer is a blob kept in a file of its own.
type filer interface{ File() *os.File }

// sendfileWriter lets http.ServeContent hand a file to the connection
// (sendfile) when the response writer it was given wraps one that can and
// does not pass ReadFrom on itself (echo's): headers go through the outer
// writer, which records the status; the body goes beneath it and is counted
// here. So no writer between may change the body (none does: documents are
// compressed ahead, blobs never).
type sendfileWriter struct {
	http.ResponseWriter
	rf io.ReaderFrom
	n  int64
}

// newSendfileWriter returns nil when w has no io.ReaderFrom beneath it, or
// is one itself (ServeContent then finds it without help).
func newSendfileWriter(w http.ResponseWriter) *sendfileWriter {
	if _, ok := w.(io.ReaderFrom); ok {
		return nil
	}
	for inner := w; ; {
		u, ok := inner.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		inner = u.Unwrap()
		if rf, ok := inner.(io.ReaderFrom); ok {
			return &sendfileWriter{ResponseWriter: w, rf: rf}
		}
	}
}

// ReadFrom sends r beneath the outer writer.
func (w *sendfileWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.rf.ReadFrom(r)
	w.n += n
	return n, err
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
	if errors.Is(err, upstream.ErrNotFound) {
		return nil, fmt.Errorf("%w: version %s of %s has no file %s", formats.ErrNotFound, version, displayName(p), name)
	}
	return a, err
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
