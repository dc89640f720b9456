package rubygems

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// Repository-wide files: /versions, /names and the legacy spec indexes.
//
// /versions must name every gem the repository can serve, or Bundler never
// asks for its info file. The gems of the external connection are only
// known from the upstream's own /versions (tens of MB on rubygems.org), so
// a repository's /versions is built from the upstream's file and the info
// files of the gems the repositories reached hold (see mergeVersions):
// gems whose info here is the upstream's keep the upstream's lines, the
// others get one line of Stockpile's own, with the MD5 of Stockpile's info
// file, right after the header. Upstream appends thus stay appends, and
// Bundler's Range requests fetch only them. The file is a pure function of
// its inputs, rebuilt only when one changes (compared by hash), so it is
// byte-stable, and ETag and Repr-Digest are always those of its bytes.
//
// Cost: every request renders the info file of each gem held locally
// (a lookup in the engine's render cache when warm, an upstream
// revalidation per gem when the connection's TTL has passed) and reads the
// upstream's /versions through the Getter (from storage when fresh).

// fetchTimeout bounds the building of one repository-wide file, detached
// from the client that started it.
const fetchTimeout = 5 * time.Minute

// indexes keeps the repository-wide files of one mounted group (one
// engine).
type indexes struct {
	res         formats.Resolver
	concurrency int

	mu      sync.Mutex
	limit   int64
	used    int64
	repos   map[string]*repoFiles
	flights singleflight.Group
	seed    maphash.Seed
}

// repoFiles are the files kept ready for one repository, each with the
// fingerprint of the inputs it was built from.
type repoFiles struct {
	versionsKey string
	versions    *indexFile
	namesKey    string
	names       *indexFile
	specsKey    map[string]string // kind → md5 of the /versions it came from
	specs       map[string]*indexFile
}

func (r *repoFiles) size() int64 {
	n := int64(0)
	for _, f := range []*indexFile{r.versions, r.names} {
		if f != nil {
			n += int64(len(f.body))
		}
	}
	for _, f := range r.specs {
		n += int64(len(f.body))
	}
	return n
}

func newIndexes(res formats.Resolver, o Options) *indexes {
	return &indexes{res: res, concurrency: o.IndexConcurrency, limit: o.IndexCacheBytes, repos: map[string]*repoFiles{}, seed: maphash.MakeSeed()}
}

func repoKey(ref formats.RepoRef) string { return ref.Domain + "\x00" + ref.Repository }

// update changes the files of a repository under the lock, and keeps the
// memory bound by dropping other repositories' files.
func (x *indexes) update(ref formats.RepoRef, fn func(*repoFiles)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := repoKey(ref)
	r := x.repos[k]
	if r == nil {
		r = &repoFiles{specsKey: map[string]string{}, specs: map[string]*indexFile{}}
		x.repos[k] = r
	}
	x.used -= r.size()
	fn(r)
	x.used += r.size()
	for other, o := range x.repos {
		if x.used <= x.limit {
			break
		}
		if other != k {
			x.used -= o.size()
			delete(x.repos, other)
		}
	}
}

// cached returns what fn picks from the repository's files, under the lock.
func (x *indexes) cached(ref formats.RepoRef, fn func(*repoFiles) *indexFile) *indexFile {
	x.mu.Lock()
	defer x.mu.Unlock()
	if r := x.repos[repoKey(ref)]; r != nil {
		return fn(r)
	}
	return nil
}

// shared runs fn once for concurrent callers asking for the same file,
// detached from any one client's request: from its cancellation, and from
// the engine's per-request trace, which the concurrent renders of
// localGems would otherwise write at once.
func (x *indexes) shared(ctx context.Context, key string, fn func(context.Context) (*indexFile, error)) (*indexFile, error) {
	ch := x.flights.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		return fn(fctx)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*indexFile), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// localGems renders the info file of every gem the repositories reached
// hold, sorted by name. Rendered files are the engine's: warm, this is a
// lookup per gem.
func (x *indexes) localGems(ctx context.Context, ref formats.RepoRef) ([]localGem, error) {
	res := x.res
	pkgs, err := res.Packages(ctx, ref, "ruby")
	if err != nil {
		return nil, err
	}
	out := make([]localGem, len(pkgs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(x.concurrency)
	for i, p := range pkgs {
		if p.Namespace != "" || !validName(p.Name) {
			continue
		}
		g.Go(func() error {
			doc, err := res.Render(gctx, ref, p, infoVariant, renderInfoDoc)
			if errors.Is(err, formats.ErrNotFound) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("rubygems: info of %s: %w", p.Name, err)
			}
			d := infoDigestOf(doc)
			out[i] = localGem{name: p.Name, md5: d.md5, keys: d.keys}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, g := range out {
		if g.name != "" {
			kept = append(kept, g)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].name < kept[j].name })
	return kept, nil
}

// upstreamFile reads a file of the external connection the repository
// reaches first; nil when it reaches none or the upstream has no such file.
func upstreamFile(ctx context.Context, res formats.Resolver, ref formats.RepoRef, path string) ([]byte, error) {
	g, err := res.Upstream(ctx, ref, "ruby")
	if errors.Is(err, formats.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	doc, err := g.Get(ctx, path, "text/plain")
	if errors.Is(err, upstream.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rubygems: /%s of the external connection: %w", path, err)
	}
	return doc.Body, nil
}

// fingerprint identifies the inputs of a merged file.
func (x *indexes) fingerprint(up []byte, local []localGem) string {
	h := sha256.New()
	for _, g := range local {
		fmt.Fprintf(h, "%s %s %d\n", g.name, g.md5, len(g.keys))
	}
	upSum := "none"
	if up != nil {
		upSum = fmt.Sprintf("%d:%x", len(up), maphash.Bytes(x.seed, up))
	}
	return fmt.Sprintf("%s:%x", upSum, h.Sum(nil))
}

// versions returns the repository's /versions.
func (x *indexes) versions(ctx context.Context, ref formats.RepoRef) (*indexFile, error) {
	return x.shared(ctx, repoKey(ref)+"\x00versions", func(ctx context.Context) (*indexFile, error) {
		local, err := x.localGems(ctx, ref)
		if err != nil {
			return nil, err
		}
		up, err := upstreamFile(ctx, x.res, ref, "versions")
		if err != nil {
			return nil, err
		}
		key := x.fingerprint(up, local)
		if f := x.cached(ref, func(r *repoFiles) *indexFile {
			if r.versionsKey == key {
				return r.versions
			}
			return nil
		}); f != nil {
			return f, nil
		}
		f := newIndexFile(mergeVersions(up, local))
		x.update(ref, func(r *repoFiles) { r.versionsKey, r.versions = key, f })
		return f, nil
	})
}

// names returns the repository's /names.
func (x *indexes) names(ctx context.Context, ref formats.RepoRef) (*indexFile, error) {
	return x.shared(ctx, repoKey(ref)+"\x00names", func(ctx context.Context) (*indexFile, error) {
		local, err := x.localGems(ctx, ref)
		if err != nil {
			return nil, err
		}
		up, err := upstreamFile(ctx, x.res, ref, "names")
		if err != nil {
			return nil, err
		}
		key := x.fingerprint(up, local)
		if f := x.cached(ref, func(r *repoFiles) *indexFile {
			if r.namesKey == key {
				return r.names
			}
			return nil
		}); f != nil {
			return f, nil
		}
		f := newIndexFile(mergeNames(up, local))
		x.update(ref, func(r *repoFiles) { r.namesKey, r.names = key, f })
		return f, nil
	})
}

// specs returns one of the repository's legacy indexes, derived from its
// /versions.
func (x *indexes) specs(ctx context.Context, ref formats.RepoRef, kind string) (*indexFile, error) {
	vf, err := x.versions(ctx, ref)
	if err != nil {
		return nil, err
	}
	return x.shared(ctx, repoKey(ref)+"\x00"+kind, func(ctx context.Context) (*indexFile, error) {
		if f := x.cached(ref, func(r *repoFiles) *indexFile {
			if r.specsKey[kind] == vf.md5 {
				return r.specs[kind]
			}
			return nil
		}); f != nil {
			return f, nil
		}
		body, err := buildSpecs(versionsIndex(vf.body), kind)
		if err != nil {
			return nil, err
		}
		f := newIndexFile(body)
		x.update(ref, func(r *repoFiles) { r.specsKey[kind], r.specs[kind] = vf.md5, f })
		return f, nil
	})
}

// infoDigest is what is derived once from a rendered info file.
type infoDigest struct {
	md5  string
	sha  [32]byte
	keys []string
}

// file is the rendered info file with its validators.
func (d *infoDigest) file(doc *formats.Rendered) *indexFile {
	return &indexFile{body: doc.Body, md5: d.md5, sha: d.sha}
}

// infoDigestOf returns the digests of one of the engine's rendered info
// files, computed once per document.
func infoDigestOf(doc *formats.Rendered) *infoDigest {
	return doc.Derived("rubygems.info", func() any {
		f := newIndexFile(doc.Body)
		return &infoDigest{md5: f.md5, sha: f.sha, keys: infoKeys(doc.Body)}
	}).(*infoDigest)
}
