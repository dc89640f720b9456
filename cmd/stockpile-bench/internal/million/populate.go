package million

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

// Layout of the populated data.
const (
	domain, repo = "bench", "cache"
	// layout changes whenever what populate writes changes: a kept
	// directory of another layout is refused, not reused.
	layout     = 3
	markerFile = "stockpile-bench-million.json"
	dataSubdir = "data"
	perPackage = 10
	blobs      = 4
	upstream   = "http://127.0.0.1:9/" // the recorded origin only: never contacted
)

// spec is what a populated directory holds; a kept directory is reused
// only when its spec is the one asked.
type spec struct {
	Layout   int `json:"layout"`
	Versions int `json:"versions"`
}

func (s spec) packages() int { return (s.Versions + perPackage - 1) / perPackage }

// versionsOf is how many versions package i has.
func (s spec) versionsOf(i int) int { return min(perPackage, s.Versions-i*perPackage) }

// populated is a populated directory's marker file.
type populated struct {
	Spec    spec           `json:"spec"`
	RepoID  string         `json:"repository_id"`
	Blobs   []storage.Sums `json:"blobs"` // the tarballs every version shares
	Seconds float64        `json:"populate_seconds"`
	Reused  bool           `json:"-"` // this run found the directory populated
}

// populate makes dir hold sp's records, or reuses it when a previous run
// populated it with the same spec. A non-empty directory without the
// marker, or with another spec, is refused: it is never emptied.
func populate(ctx context.Context, dir string, sp spec, log *slog.Logger) (*populated, error) {
	marker, p := filepath.Join(dir, markerFile), &populated{}
	b, err := os.ReadFile(marker)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, p); err != nil || p.Spec != sp {
			return nil, fmt.Errorf("million: %s was populated with %+v (%v), not %+v: remove it or choose another directory", dir, p.Spec, err, sp)
		}
		p.Reused = true
		log.Info("million: reusing populated data", "dir", dir, "versions", sp.Versions, "populate_s", p.Seconds)
		return p, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("million: %w", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		return nil, fmt.Errorf("million: %s is not empty and was not populated by this scenario (no %s): refusing to write into it", dir, markerFile)
	}
	start := time.Now()
	if p, err = write(ctx, filepath.Join(dir, dataSubdir), sp, log); err != nil {
		return nil, fmt.Errorf("million: populate %s: %w", dir, err)
	}
	p.Seconds = time.Since(start).Seconds()
	if b, err = json.MarshalIndent(p, "", "  "); err == nil {
		err = os.WriteFile(marker, append(b, '\n'), 0o644)
	}
	log.Info("million: populated", "dir", dir, "versions", sp.Versions, "populate_s", p.Seconds)
	return p, err
}

// write opens a store on dataDir, creates the domain and the repository
// (no external connection: every answer comes from records and blobs),
// writes the shared blobs, then every package's records, and closes the
// store.
func write(ctx context.Context, dataDir string, sp spec, log *slog.Logger) (p *populated, err error) {
	store, err := badgerstore.Open(badgerstore.Options{Dir: dataDir, GCInterval: -1}, log)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	reg, err := model.Load(ctx, store)
	if err != nil {
		return nil, err
	}
	if _, err := reg.CreateDomain(ctx, domain, nil); err != nil {
		return nil, err
	}
	r, err := reg.CreateRepository(ctx, domain, repo, "stockpile-bench million: records written directly", nil, nil)
	if err != nil {
		return nil, err
	}
	p = &populated{Spec: sp, RepoID: r.ID}
	// A handful of real tarballs, shared by every version through their
	// SHA-256 (blobs are content-addressed per domain).
	var sri []string
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range blobs {
		tgz := formattest.NPMTarball("million-fixture", fmt.Sprintf("1.0.%d", i), (8<<10)<<i, rng)
		s, err := store.WriteBlob(ctx, domain, bytes.NewReader(tgz), nil)
		if err != nil {
			return nil, err
		}
		p.Blobs, sri = append(p.Blobs, s), append(sri, formattest.NPMIntegrity(tgz))
	}
	// Two writers, each encoding while Badger commits the other's batch.
	g, gctx := errgroup.WithContext(ctx)
	n := sp.packages()
	for first := range 2 {
		g.Go(func() error {
			w := &writer{store: store, pop: p, sri: sri}
			for i := first; i < n && gctx.Err() == nil; i += 2 {
				if err := w.put(gctx, i); err != nil {
					return err
				}
				if i%(n/10+1) == 0 {
					log.Info("million: populating", "packages", i, "of", n)
				}
			}
			return errors.Join(gctx.Err(), w.flush(gctx))
		})
	}
	return p, g.Wait()
}

// writer encodes records as the resolver's own writer does (the test
// compares them byte for byte) and applies them 256 KiB at a time:
// Badger refuses a transaction above 15 % of its memtable (4 MiB).
type writer struct {
	store storage.Store
	pop   *populated
	sri   []string // each blob's dist.integrity
	muts  []storage.Mutation
	size  int
}

func (w *writer) add(ctx context.Context, k interface{ Bytes() ([]byte, error) }, v any) error {
	key, kerr := k.Bytes()
	val, err := resolver.EncodeRecord(v)
	if err := errors.Join(kerr, err); err != nil {
		return err
	}
	w.muts, w.size = append(w.muts, storage.Mutation{Key: key, Value: val}), w.size+len(key)+len(val)
	if w.size < 256<<10 {
		return nil
	}
	return w.flush(ctx)
}

func (w *writer) flush(ctx context.Context) error {
	err := w.store.Apply(ctx, w.muts)
	w.muts, w.size = w.muts[:0], 0
	return err
}

var epoch = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)

// raw encodes a document of strings and numbers, which cannot fail.
func raw(v any) json.RawMessage { b, _ := resolver.EncodeRecord(v); return b }

// put adds package i's versions, each as the resolver retains a version
// fetched from an external connection, and its package record (origin
// controls as the first arrival sets them: publish BLOCK, upstream ALLOW).
func (w *writer) put(ctx context.Context, i int) error {
	p, nv := pkg(i), w.pop.Spec.versionsOf(i)
	key := storage.PackageKey{Domain: domain, RepoID: w.pop.RepoID, Format: p.Format, Namespace: p.Namespace, Name: p.Name}
	for j := range nv {
		if err := w.add(ctx, key.VersionKey(version(i, j)), w.version(p, i, j)); err != nil {
			return err
		}
	}
	name, created := display(p), epoch.Add(time.Duration(i)*time.Minute)
	return w.add(ctx, key, resolver.PackageRecord{
		Package: p, Origin: resolver.OriginConfig{Publish: resolver.Block, Upstream: resolver.Allow},
		Tags: map[string]string{"latest": version(i, nv-1)}, Updated: epoch,
		Extra: raw(map[string]any{
			"description": "stockpile-bench package " + name, "license": "MIT", "homepage": "https://example.com/" + name,
			"repository": map[string]string{"type": "git", "url": "git+https://example.com/" + name + ".git"},
			"time": map[string]string{
				"created":  created.Format(time.RFC3339),
				"modified": created.Add(time.Duration(nv-1) * 24 * time.Hour).Format(time.RFC3339),
			},
		}),
	})
}

// version is version j of package p (number i): its version object as the
// registry serves it, trimmed to the fields installers read (the npm format
// relays it; dist.tarball is rewritten to point at the repository), and
// one tarball.
func (w *writer) version(p formats.Package, i, j int) resolver.VersionRecord {
	v, name, b := version(i, j), display(p), (i+j)%len(w.pop.Blobs)
	s, file := w.pop.Blobs[b], p.Name+"-"+v+".tgz"
	from := upstream + url.PathEscape(name) + "/-/" + file
	deps := map[string]string{}
	for _, k := range []int{i*7 + 1, i*13 + 5} {
		deps[display(pkg(k%w.pop.Spec.packages()))] = "^1.0.0"
	}
	rec := resolver.VersionRecord{
		Version: formats.Version{
			Version: v, Status: formats.StatusPublished,
			Meta: raw(map[string]any{
				"name": name, "version": v, "description": "stockpile-bench package " + name, "main": "index.js",
				"license": "MIT", "dependencies": deps, "engines": map[string]string{"node": ">=18"}, "_id": name + "@" + v,
				"dist": map[string]any{"integrity": w.sri[b], "shasum": s.SHA1, "tarball": from, "fileCount": 3, "unpackedSize": s.Size * 3},
			}),
			Published: epoch.Add(time.Duration(i)*time.Minute + time.Duration(j)*24*time.Hour),
			Assets: []formats.AssetRef{{Name: file, URL: from, Size: s.Size,
				Digests: formats.Digests{SHA512: s.SHA512, SHA256: s.SHA256, SHA1: s.SHA1, MD5: s.MD5}}},
		},
		Origin: resolver.VersionOrigin{Type: resolver.OriginExternal, Connection: stack.NPMJSConnection},
	}
	rec.Revision = resolver.Revision(&rec.Version)
	return rec
}

var words = [...]string{"core", "util", "parse", "async", "stream", "config", "react", "babel", "plugin", "loader",
	"types", "eslint", "lodash", "color", "fetch", "crypto", "yaml", "cli", "test", "server"}

// pkg names package i: npm-looking names of varied length, one in ten
// scoped.
func pkg(i int) formats.Package {
	p := formats.Package{Format: "npm", Name: words[i%len(words)] + "-" + words[(i/len(words))%len(words)] + "-" + strconv.Itoa(i)}
	if i%10 == 3 {
		p.Namespace = "scope" + strconv.Itoa(i%97)
	}
	return p
}

// version names version j of package i: distinct semver versions, 1.0.x …
// 2.4.x.
func version(i, j int) string { return fmt.Sprintf("%d.%d.%d", 1+j/5, j%5, (i+j)%3) }

// display is p's name as npm prints it, "@scope/name"; url.PathEscape
// gives the form of a packument's URL, "@scope%2Fname".
func display(p formats.Package) string {
	if p.Namespace == "" {
		return p.Name
	}
	return "@" + p.Namespace + "/" + p.Name
}
