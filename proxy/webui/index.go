package webui

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/storage"
)

// indexTTL is how long a repository's package index is served before it is
// rebuilt; a stale one is served while the rebuild runs, so a list page
// never waits for a scan of the repository except the first time.
const indexTTL = 5 * time.Second

// indexBuildTimeout bounds one rebuild, detached from the page that asked.
const indexBuildTimeout = time.Minute

// entry is one package of an index, with the lower-case forms searches
// compare against.
type entry struct {
	pkg                 formats.Package
	display             string
	lowerName, lowerAll string
	internal            bool
	// idle: cached from upstream and never requested again since
	// (PackageRecord.RequestedAgain unset).
	idle bool
}

// repoIndex is what the pages list of a repository: its packages in key
// order (format, namespace, name), its version count and formats.
type repoIndex struct {
	built    time.Time
	entries  []entry
	versions int
	formats  []string
}

// indexes keeps one index per repository (by id, so a re-created repository
// starts afresh).
type indexes struct {
	mu      sync.Mutex
	m       map[string]*repoIndex
	flights singleflight.Group
}

// index returns r's package index: the kept one, rebuilt in the background
// once older than indexTTL, or a new one when there is none.
func (h *Handler) index(ctx context.Context, r model.Repository) (*repoIndex, error) {
	h.idx.mu.Lock()
	ix := h.idx.m[r.ID]
	h.idx.mu.Unlock()
	if ix != nil {
		if h.o.Now().Sub(ix.built) > indexTTL {
			go func() { _, _ = h.rebuild(r) }()
		}
		return ix, nil
	}
	return awaitFlight(ctx, &h.idx.flights, r.ID, func() (*repoIndex, error) { return h.build(r) })
}

// awaitFlight builds key's value once, whoever asks at the same time, and
// waits for it or for ctx to end (the build goes on for the others).
func awaitFlight[T any](ctx context.Context, g *singleflight.Group, key string, build func() (T, error)) (T, error) {
	ch := g.DoChan(key, func() (any, error) { return build() })
	select {
	case res := <-ch:
		if res.Err != nil {
			var zero T
			return zero, res.Err
		}
		return res.Val.(T), nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// rebuild builds r's index once, whoever asks at the same time.
func (h *Handler) rebuild(r model.Repository) (*repoIndex, error) {
	v, err, _ := h.idx.flights.Do(r.ID, func() (any, error) { return h.build(r) })
	if err != nil {
		h.o.Log.Warn("web interface: cannot index repository", "domain", r.Domain, "repository", r.Name, "error", err.Error())
		return nil, err
	}
	return v.(*repoIndex), nil
}

// build scans r's package and version records and keeps the result.
func (h *Handler) build(r model.Repository) (*repoIndex, error) {
	ctx, cancel := context.WithTimeout(context.Background(), indexBuildTimeout)
	defer cancel()
	started := h.o.Now()
	recs, err := h.o.Contents.PackageRecords(ctx, r.Domain, r.ID, "")
	if err != nil {
		return nil, err
	}
	ix := &repoIndex{built: started, entries: make([]entry, 0, len(recs))}
	for _, rec := range recs {
		d := h.display(rec.Package)
		ix.entries = append(ix.entries, entry{pkg: rec.Package, display: d, internal: rec.Internal, idle: !rec.Internal && !rec.RequestedAgain,
			lowerName: strings.ToLower(rec.Package.Name), lowerAll: strings.ToLower(d)})
		if !slices.Contains(ix.formats, rec.Package.Format) {
			ix.formats = append(ix.formats, rec.Package.Format)
		}
	}
	prefix, err := storage.RepositoryVersionsPrefix(r.Domain, r.ID)
	if err != nil {
		return nil, err
	}
	if err := h.o.Records.Scan(ctx, prefix, func(_, _ []byte) error { ix.versions++; return nil }); err != nil {
		return nil, err
	}
	h.idx.mu.Lock()
	if h.idx.m == nil {
		h.idx.m = map[string]*repoIndex{}
	}
	h.idx.m[r.ID] = ix
	h.idx.mu.Unlock()
	if h.o.Indexed != nil {
		h.o.Indexed()
	}
	return ix, nil
}

// forget drops r's index after a change made here, so the next page shows it.
func (h *Handler) forget(r model.Repository) {
	h.idx.mu.Lock()
	delete(h.idx.m, r.ID)
	h.idx.mu.Unlock()
	h.staleDomain(r.Domain)
}
