package million

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

// millionSpec is what a populated directory holds; a kept directory is
// reused only when its spec is the one asked.
type millionSpec struct {
	Layout     int `json:"layout"`
	Versions   int `json:"versions"`
	PerPackage int `json:"per_package"`
}

func (s millionSpec) packages() int { return (s.Versions + s.PerPackage - 1) / s.PerPackage }

// versionsOf returns how many versions package i has (the last may have
// fewer).
func (s millionSpec) versionsOf(i int) int {
	return min(s.PerPackage, s.Versions-i*s.PerPackage)
}

// millionBlob is one of the shared tarballs.
type millionBlob struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// millionPopulated describes a populated directory (its marker file).
type millionPopulated struct {
	Spec     millionSpec   `json:"spec"`
	RepoID   string        `json:"repository_id"`
	Blobs    []millionBlob `json:"blobs"`
	Seconds  float64       `json:"populate_seconds"`
	Created  time.Time     `json:"created"`
	Packages int           `json:"packages"`
	// Reused is true when this run found the directory populated.
	Reused bool `json:"-"`
}

func (p *millionPopulated) duration() time.Duration {
	return time.Duration(p.Seconds * float64(time.Second))
}

// millionPopulate makes dir hold spec's records, or reuses it when a
// previous run populated it with the same spec. A non-empty directory
// without the marker, or with another spec, is refused: it is never
// emptied.
func millionPopulate(ctx context.Context, dir string, spec millionSpec, log *slog.Logger) (*millionPopulated, error) {
	marker := filepath.Join(dir, millionMarker)
	if raw, err := os.ReadFile(marker); err == nil {
		var p millionPopulated
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("million: %s: %w", marker, err)
		}
		if p.Spec != spec {
			return nil, fmt.Errorf("million: %s was populated with %+v, not %+v: remove it or choose another directory", dir, p.Spec, spec)
		}
		p.Reused = true
		log.Info("million: reusing populated data", "dir", dir, "versions", spec.Versions, "populated_in", p.duration().Round(time.Millisecond))
		return &p, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("million: %w", err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("million: %s is not empty and was not populated by this scenario (no %s): refusing to write into it", dir, millionMarker)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("million: %w", err)
	}
	start := time.Now()
	p, err := millionWrite(ctx, filepath.Join(dir, millionDataDir), spec, log)
	if err != nil {
		return nil, err
	}
	p.Seconds = time.Since(start).Seconds()
	p.Created = time.Now().UTC()
	raw, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("million: %w", err)
	}
	if err := os.WriteFile(marker, append(raw, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("million: %w", err)
	}
	log.Info("million: populated", "dir", dir, "versions", spec.Versions, "packages", p.Packages, "took", p.duration().Round(time.Millisecond))
	return p, nil
}

// millionWrite opens a store on dataDir, creates the domain and the
// repository, writes the shared blobs, then every package and version
// record in batches, and closes the store (which flushes the memtables).
func millionWrite(ctx context.Context, dataDir string, spec millionSpec, log *slog.Logger) (p *millionPopulated, err error) {
	store, err := badgerstore.Open(badgerstore.Options{Dir: dataDir, GCInterval: -1}, log)
	if err != nil {
		return nil, fmt.Errorf("million: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("million: %w", cerr)
		}
	}()
	reg, err := model.Load(ctx, store)
	if err != nil {
		return nil, fmt.Errorf("million: %w", err)
	}
	if _, err := reg.CreateDomain(ctx, millionDomain, nil); err != nil {
		return nil, fmt.Errorf("million: %w", err)
	}
	repo, err := reg.CreateRepository(ctx, millionDomain, millionRepo, "stockpile-bench million: records written directly", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("million: %w", err)
	}
	p = &millionPopulated{Spec: spec, RepoID: repo.ID, Packages: spec.packages()}

	// A handful of real tarballs, shared by every version through their
	// SHA-256 (blobs are content-addressed per domain).
	var sums []storage.Sums
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range millionBlobs {
		tgz := formattest.NPMTarball("million-fixture", fmt.Sprintf("1.0.%d", i), (8<<10)<<i, rng)
		s, err := store.WriteBlob(ctx, millionDomain, bytes.NewReader(tgz), nil)
		if err != nil {
			return nil, fmt.Errorf("million: %w", err)
		}
		sums = append(sums, s)
		p.Blobs = append(p.Blobs, millionBlob{SHA256: s.SHA256, Size: s.Size})
	}

	// Packages are cut into ranges written by one goroutine each: encoding
	// costs about as much as Badger's commit, which serialises anyway.
	workers := 2
	n := spec.packages()
	var next, done atomic.Int64
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	const rangeSize = 512
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for range workers {
		wg.Go(func() {
			w := millionWriter{store: store, repoID: repo.ID, spec: spec, sums: sums}
			for ctx.Err() == nil {
				lo := int(next.Add(rangeSize)) - rangeSize
				if lo >= n {
					break
				}
				for i := lo; i < min(lo+rangeSize, n); i++ {
					if err := w.addPackage(ctx, i); err != nil {
						errc <- err
						cancel()
						return
					}
				}
				done.Add(int64(min(lo+rangeSize, n) - lo))
			}
			if err := w.flush(ctx); err != nil {
				errc <- err
				cancel()
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	start := time.Now()
loop:
	for {
		select {
		case <-finished:
			break loop
		case <-tick.C:
			d := done.Load()
			log.Info("million: populating", "packages", d, "of", n, "rate_versions_per_s", int(float64(d)*float64(spec.PerPackage)/time.Since(start).Seconds()))
		}
	}
	close(errc)
	for err := range errc {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("million: populate: %w", err)
	}
	return p, nil
}

// millionWriter accumulates mutations and applies them in batches.
type millionWriter struct {
	store  storage.Store
	repoID string
	spec   millionSpec
	sums   []storage.Sums
	muts   []storage.Mutation
	bytes  int
}

// millionPackage names package i: npm-looking names of varied length, one
// in ten scoped.
func millionPackage(i int) formats.Package {
	words := []string{"core", "util", "parse", "async", "stream", "config", "react", "babel", "plugin", "loader",
		"types", "eslint", "lodash", "color", "fetch", "crypto", "yaml", "cli", "test", "server"}
	name := words[i%len(words)] + "-" + words[(i/len(words))%len(words)] + "-" + strconv.Itoa(i)
	p := formats.Package{Format: "npm", Name: name}
	if i%10 == 3 {
		p.Namespace = "scope" + strconv.Itoa(i%97)
	}
	return p
}

// millionVersion names version j of package i: distinct semver versions,
// 1.0.x … 2.4.x.
func millionVersion(i, j int) string {
	return fmt.Sprintf("%d.%d.%d", 1+j/5, j%5, (i+j)%3)
}

func millionDisplay(p formats.Package) string {
	if p.Namespace == "" {
		return p.Name
	}
	return "@" + p.Namespace + "/" + p.Name
}

func millionEscaped(p formats.Package) string {
	if p.Namespace == "" {
		return p.Name
	}
	return "@" + p.Namespace + "%2f" + p.Name
}

func millionTarballName(p formats.Package, version string) string {
	return p.Name + "-" + version + ".tgz"
}

// millionMeta is a version object as the registry serves it, trimmed to
// the fields installers read (the npm format relays it; dist.tarball is
// rewritten to point at the repository).
type millionMeta struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Description  string            `json:"description"`
	Main         string            `json:"main"`
	License      string            `json:"license"`
	Dependencies map[string]string `json:"dependencies,omitempty"`
	Engines      map[string]string `json:"engines"`
	ID           string            `json:"_id"`
	Dist         millionDist       `json:"dist"`
}

type millionDist struct {
	Integrity    string `json:"integrity"`
	Shasum       string `json:"shasum"`
	Tarball      string `json:"tarball"`
	FileCount    int    `json:"fileCount"`
	UnpackedSize int64  `json:"unpackedSize"`
}

// millionExtra is the package-level fields the packument shows.
type millionExtra struct {
	Description string            `json:"description"`
	License     string            `json:"license"`
	Homepage    string            `json:"homepage"`
	Repository  map[string]string `json:"repository"`
	Time        map[string]string `json:"time"`
}

var millionEpoch = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)

// addPackage adds the records of package i: its versions (each as the
// resolver retains a version fetched from an external connection) and its
// package record (origin controls as set by the first arrival: publish
// BLOCK, upstream ALLOW).
func (w *millionWriter) addPackage(ctx context.Context, i int) error {
	p := millionPackage(i)
	display := millionDisplay(p)
	nv := w.spec.versionsOf(i)
	var newest string
	for j := range nv {
		v := millionVersion(i, j)
		newest = v
		s := w.sums[(i+j)%len(w.sums)]
		file := millionTarballName(p, v)
		upstreamURL := millionUpstream + millionEscaped(p) + "/-/" + file
		deps := map[string]string{}
		for _, k := range []int{i*7 + 1, i*13 + 5} {
			deps[millionDisplay(millionPackage(k%w.spec.packages()))] = "^1.0.0"
		}
		meta, err := millionEncode(millionMeta{
			Name: display, Version: v, Description: "stockpile-bench package " + display,
			Main: "index.js", License: "MIT", Dependencies: deps, Engines: map[string]string{"node": ">=18"},
			ID: display + "@" + v,
			Dist: millionDist{
				Integrity: millionSRI(s.SHA512), Shasum: s.SHA1, Tarball: upstreamURL,
				FileCount: 3, UnpackedSize: s.Size * 3,
			},
		})
		if err != nil {
			return err
		}
		rec := resolver.VersionRecord{
			Version: formats.Version{
				Version: v, Status: formats.StatusPublished, Meta: meta,
				Assets: []formats.AssetRef{{
					Name: file, URL: upstreamURL, Size: s.Size,
					Digests: formats.Digests{SHA512: s.SHA512, SHA256: s.SHA256, SHA1: s.SHA1, MD5: s.MD5},
				}},
				Published: millionEpoch.Add(time.Duration(i)*time.Minute + time.Duration(j)*24*time.Hour),
			},
			Origin: resolver.VersionOrigin{Type: resolver.OriginExternal, Connection: millionConn},
		}
		rec.Revision = resolver.Revision(&rec.Version)
		if err := w.add(ctx, w.packageKey(p).VersionKey(v), rec); err != nil {
			return err
		}
	}
	extra, err := millionEncode(millionExtra{
		Description: "stockpile-bench package " + display, License: "MIT",
		Homepage:   "https://example.com/" + display,
		Repository: map[string]string{"type": "git", "url": "git+https://example.com/" + display + ".git"},
		Time: map[string]string{
			"created":  millionEpoch.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			"modified": millionEpoch.Add(time.Duration(i)*time.Minute + time.Duration(nv-1)*24*time.Hour).Format(time.RFC3339),
		},
	})
	if err != nil {
		return err
	}
	pr := resolver.PackageRecord{
		Package: p,
		Origin:  resolver.OriginConfig{Publish: resolver.Block, Upstream: resolver.Allow},
		Tags:    map[string]string{"latest": newest},
		Extra:   extra,
		Updated: millionEpoch,
	}
	return w.add(ctx, w.packageKey(p), pr)
}

func (w *millionWriter) packageKey(p formats.Package) storage.PackageKey {
	return storage.PackageKey{Domain: millionDomain, RepoID: w.repoID, Format: p.Format, Namespace: p.Namespace, Name: p.Name}
}

func (w *millionWriter) add(ctx context.Context, k interface{ Bytes() ([]byte, error) }, v any) error {
	key, err := k.Bytes()
	if err != nil {
		return err
	}
	b, err := millionEncode(v)
	if err != nil {
		return err
	}
	w.muts = append(w.muts, storage.Mutation{Key: key, Value: b})
	w.bytes += len(key) + len(b) + 64
	if w.bytes >= millionBatchBytes {
		return w.flush(ctx)
	}
	return nil
}

func (w *millionWriter) flush(ctx context.Context) error {
	if len(w.muts) == 0 {
		return nil
	}
	if err := millionApply(ctx, w.store, w.muts); err != nil {
		return err
	}
	w.muts, w.bytes = w.muts[:0], 0
	return nil
}

// millionApply applies muts, halving batches Badger finds too big.
func millionApply(ctx context.Context, st storage.Store, muts []storage.Mutation) error {
	err := st.Apply(ctx, muts)
	if errors.Is(err, badgerstore.ErrTooBig) && len(muts) > 1 {
		if err := millionApply(ctx, st, muts[:len(muts)/2]); err != nil {
			return err
		}
		return millionApply(ctx, st, muts[len(muts)/2:])
	}
	if err != nil {
		return fmt.Errorf("million: write records: %w", err)
	}
	return nil
}

// millionEncode encodes a record exactly as the resolver does.
func millionEncode(v any) ([]byte, error) {
	b, err := resolver.EncodeRecord(v)
	if err != nil {
		return nil, fmt.Errorf("million: %w", err)
	}
	return b, nil
}

func millionSRI(sha512Hex string) string {
	b, _ := hex.DecodeString(sha512Hex)
	return "sha512-" + base64.StdEncoding.EncodeToString(b)
}
