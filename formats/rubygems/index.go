package rubygems

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/stockpile-proxy/stockpile/formats"
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
// The engine keeps the files and builds each once for concurrent requests
// (RenderRepository); every request still renders the info file of each
// gem held locally (a lookup in the engine's render cache when warm, an
// upstream revalidation per gem when the connection's TTL has passed) and
// reads the upstream's /versions through the Getter (from storage when
// fresh), to fingerprint the inputs.

// indexes builds the repository-wide files of one mounted group (one
// engine); the engine keeps them (RenderRepository).
type indexes struct {
	res         formats.Resolver
	concurrency int
	seed        maphash.Seed

	// diverged are, per repository, the gems held by no repository whose
	// info file as served differs from the upstream's (the engine left
	// versions out: a release-age cooldown, a known-malicious advisory).
	// /versions gives them a line of Stockpile's own like local gems, so
	// its MD5s stay those of the info files served.
	divMu    sync.Mutex
	diverged map[string]map[string]bool
}

// maxDiverged bounds the gems remembered as diverged per repository; when
// full the set is emptied (a bound, not a policy: a gem is remembered again
// the next time its info file is built).
const maxDiverged = 10000

func repoKey(ref formats.RepoRef) string { return ref.Domain + "\x00" + ref.Repository }

// renderInfoFor returns the render function of /info/{name} in ref's
// repository: it notes whether the file differs from the upstream's.
func (x *indexes) renderInfoFor(ref formats.RepoRef, name string) func(*formats.View) (*formats.Rendered, error) {
	return func(v *formats.View) (*formats.Rendered, error) {
		body := renderInfo(v)
		var extra packageExtra
		_ = json.Unmarshal(v.Extra, &extra)
		if extra.Info != "" && extra.Info != string(body) {
			x.divMu.Lock()
			k := repoKey(ref)
			if x.diverged == nil {
				x.diverged = map[string]map[string]bool{}
			}
			if x.diverged[k] == nil || len(x.diverged[k]) >= maxDiverged {
				x.diverged[k] = map[string]bool{}
			}
			x.diverged[k][name] = true
			x.divMu.Unlock()
		}
		return &formats.Rendered{Body: body, ContentType: textPlain}, nil
	}
}

// divergedGems lists the gems noted as diverged in ref's repository.
func (x *indexes) divergedGems(ref formats.RepoRef) []formats.Package {
	x.divMu.Lock()
	defer x.divMu.Unlock()
	var out []formats.Package
	for name := range x.diverged[repoKey(ref)] {
		out = append(out, formats.Package{Format: "ruby", Name: name})
	}
	return out
}

func newIndexes(res formats.Resolver, o Options) *indexes {
	return &indexes{res: res, concurrency: o.IndexConcurrency, seed: maphash.MakeSeed()}
}

// indexFileOf returns a repository-wide file the engine rendered with its
// validators, computed once per document.
func indexFileOf(doc *formats.Rendered) *indexFile {
	return doc.Derived("rubygems.index", func() any { return newIndexFile(doc.Body) }).(*indexFile)
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
	seen := make(map[string]bool, len(pkgs))
	for _, p := range pkgs {
		seen[p.Name] = true
	}
	for _, p := range x.divergedGems(ref) {
		if !seen[p.Name] {
			pkgs = append(pkgs, p)
		}
	}
	out := make([]localGem, len(pkgs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(x.concurrency)
	for i, p := range pkgs {
		if p.Namespace != "" || !validName(p.Name) {
			continue
		}
		g.Go(func() error {
			doc, err := res.Render(gctx, ref, p, infoVariant, x.renderInfoFor(ref, p.Name))
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
	if errors.Is(err, formats.ErrNotFound) {
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
	return x.merged(ctx, ref, "versions", mergeVersions)
}

// names returns the repository's /names.
func (x *indexes) names(ctx context.Context, ref formats.RepoRef) (*indexFile, error) {
	return x.merged(ctx, ref, "names", mergeNames)
}

// merged returns the repository's file at path, merged by merge from the
// upstream's file and the gems the repositories reached hold.
func (x *indexes) merged(ctx context.Context, ref formats.RepoRef, path string, merge func(up []byte, local []localGem) []byte) (*indexFile, error) {
	doc, err := x.res.RenderRepository(ctx, ref, "rubygems."+path, func(ctx context.Context) (string, func() (*formats.Rendered, error), error) {
		local, err := x.localGems(ctx, ref)
		if err != nil {
			return "", nil, err
		}
		up, err := upstreamFile(ctx, x.res, ref, path)
		if err != nil {
			return "", nil, err
		}
		return x.fingerprint(up, local), func() (*formats.Rendered, error) {
			return &formats.Rendered{Body: merge(up, local), ContentType: textPlain}, nil
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return indexFileOf(doc), nil
}

// specs returns one of the repository's legacy indexes, derived from its
// /versions.
func (x *indexes) specs(ctx context.Context, ref formats.RepoRef, kind string) (*indexFile, error) {
	doc, err := x.res.RenderRepository(ctx, ref, "rubygems."+kind, func(ctx context.Context) (string, func() (*formats.Rendered, error), error) {
		vf, err := x.versions(ctx, ref)
		if err != nil {
			return "", nil, err
		}
		return vf.md5, func() (*formats.Rendered, error) {
			body, err := buildSpecs(versionsIndex(vf.body), kind)
			if err != nil {
				return nil, err
			}
			return &formats.Rendered{Body: body, ContentType: octetStream}, nil
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return indexFileOf(doc), nil
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
