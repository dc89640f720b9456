package webui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/storage"
)

// The domain index is what the pages show that needs every version record
// of a domain: which packages depend on a package (dependents inside the
// domain) and the bytes each repository's versions refer to, with the
// bytes the domain's blobs take in the store. One scan of the domain's
// version records builds it, in the background once older than
// domainIndexTTL (a stale one is served meanwhile), so a page view is a map
// lookup whatever the number of packages.

// domainIndexTTL is how long a domain index is served before it is rebuilt.
const domainIndexTTL = 2 * time.Minute

// maxDependentsShown bounds the dependents a package page lists.
const maxDependentsShown = 100

// BlobLister lists a domain's stored blobs with their sizes; storage.Store
// implements it.
type BlobLister interface {
	ListBlobs(ctx context.Context, domain string, fn func(storage.BlobInfo) error) error
}

// dependent is a package of a repository whose newest version depends on
// another package.
type dependent struct {
	repoID  string
	pkg     formats.Package
	version string
}

// domainIndex is one domain's dependents and storage numbers.
type domainIndex struct {
	built time.Time
	// dependents maps a dependency (depKey) to the packages depending on it.
	dependents map[string][]dependent
	// repoBytes is, per repository id, the sum of the sizes of the assets
	// its versions (Disposed ones excepted) refer to; a blob several
	// repositories refer to counts in each.
	repoBytes map[string]int64
	// blobBytes and blobs are the domain's stored blobs, each counted once,
	// as the store lists them; blobsKnown is false without a BlobLister.
	blobBytes  int64
	blobs      int
	blobsKnown bool
}

type domainIndexes struct {
	mu      sync.Mutex
	m       map[string]*domainIndex
	flights singleflight.Group
}

func depKey(p formats.Package) string {
	return p.Format + "\x00" + p.Namespace + "\x00" + p.Name
}

// domainIndex returns domain's index: the kept one, rebuilt in the
// background once older than domainIndexTTL, or a new one.
func (h *Handler) domainIndex(ctx context.Context, domain string) (*domainIndex, error) {
	h.didx.mu.Lock()
	ix := h.didx.m[domain]
	h.didx.mu.Unlock()
	if ix != nil {
		if h.o.Now().Sub(ix.built) > domainIndexTTL {
			go func() {
				if _, err, _ := h.didx.flights.Do(domain, func() (any, error) { return h.buildDomain(domain) }); err != nil {
					h.o.Log.Warn("web interface: cannot index domain", "domain", domain, "error", err.Error())
				}
			}()
		}
		return ix, nil
	}
	return awaitFlight(ctx, &h.didx.flights, domain, func() (*domainIndex, error) { return h.buildDomain(domain) })
}

// errNoAsset is what the index's describers get for an asset: dependencies
// are read from the records' metadata only, never from stored files.
var errNoAsset = errors.New("web interface: the domain index reads no asset")

// versionSummary is what the index reads of a version record.
type versionSummary struct {
	Version   string          `json:"version"`
	Status    formats.Status  `json:"status"`
	Meta      json.RawMessage `json:"meta,omitempty"`
	Published time.Time       `json:"published"`
	Assets    []struct {
		Size int64 `json:"size"`
	} `json:"assets,omitempty"`
}

// buildDomain scans the version records of every repository of domain and
// keeps the index. The dependencies of a package are its newest version's,
// as the format's Describer reads them from the record's metadata (npm and
// Cargo keep them there; formats that need the asset are not indexed).
func (h *Handler) buildDomain(domain string) (*domainIndex, error) {
	ctx, cancel := context.WithTimeout(context.Background(), indexBuildTimeout)
	defer cancel()
	started := h.o.Now()
	repos, err := h.o.Catalog.Repositories(domain)
	if err != nil {
		return nil, err
	}
	ix := &domainIndex{built: started, dependents: map[string][]dependent{}, repoBytes: map[string]int64{}}
	for _, r := range repos {
		if err := h.indexRepository(ctx, ix, domain, r.ID); err != nil {
			return nil, err
		}
	}
	if h.o.Blobs != nil {
		err := h.o.Blobs.ListBlobs(ctx, domain, func(b storage.BlobInfo) error {
			ix.blobBytes += b.Size
			ix.blobs++
			return nil
		})
		if err != nil {
			return nil, err
		}
		ix.blobsKnown = true
	}
	h.didx.mu.Lock()
	if h.didx.m == nil {
		h.didx.m = map[string]*domainIndex{}
	}
	h.didx.m[domain] = ix
	h.didx.mu.Unlock()
	return ix, nil
}

// indexRepository adds one repository's version records to ix. The
// records of one package come one after the other (key order), so only the
// newest of the current package is held.
func (h *Handler) indexRepository(ctx context.Context, ix *domainIndex, domain, repoID string) error {
	prefix, err := storage.RepositoryVersionsPrefix(domain, repoID)
	if err != nil {
		return err
	}
	var cur formats.Package
	var newest *versionSummary
	flush := func() {
		if newest != nil {
			h.addDependencies(ctx, ix, repoID, cur, newest)
		}
		newest = nil
	}
	err = h.o.Records.Scan(ctx, prefix, func(key, value []byte) error {
		_, parts := storage.SplitKey(key)
		if len(parts) != 6 {
			return nil
		}
		p := formats.Package{Format: parts[2], Namespace: parts[3], Name: parts[4]}
		if p != cur {
			flush()
			cur = p
		}
		var v versionSummary
		if json.Unmarshal(value, &v) != nil {
			return nil // an unreadable record is left out, not fatal to the page
		}
		if v.Status != formats.StatusDisposed {
			for _, a := range v.Assets {
				ix.repoBytes[repoID] += a.Size
			}
		}
		if newest == nil || v.Published.After(newest.Published) {
			newest = &v
		}
		return nil
	})
	flush()
	return err
}

// addDependencies records p (of repository repoID, at its newest version
// v) as a dependent of each package v depends on.
func (h *Handler) addDependencies(ctx context.Context, ix *domainIndex, repoID string, p formats.Package, v *versionSummary) {
	d := h.describer(p.Format)
	if d == nil || len(v.Meta) == 0 {
		return
	}
	ver := &formats.Version{Version: v.Version, Status: v.Status, Meta: v.Meta, Published: v.Published}
	desc, err := d.Describe(ctx, ver, func(string) (io.ReadCloser, error) { return nil, errNoAsset })
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, dep := range desc.Dependencies {
		k := depKey(h.normalize(formats.Package{Format: p.Format, Namespace: dep.Namespace, Name: dep.Package}))
		if seen[k] {
			continue
		}
		seen[k] = true
		ix.dependents[k] = append(ix.dependents[k], dependent{repoID: repoID, pkg: p, version: v.Version})
	}
}

// staleDomain makes domain's index rebuilt on its next use (in the
// background: the kept one is served meanwhile), after a change made here.
func (h *Handler) staleDomain(domain string) {
	h.didx.mu.Lock()
	defer h.didx.mu.Unlock()
	if ix := h.didx.m[domain]; ix != nil {
		cp := *ix
		cp.built = time.Time{}
		h.didx.m[domain] = &cp
	}
}

// describer returns the Describer of format, or nil.
func (h *Handler) describer(format string) formats.Describer {
	for _, f := range h.o.Formats {
		if d, ok := f.(formats.Describer); ok && f.Name() == format {
			return d
		}
	}
	return nil
}

// dependentRow is a dependent as the package page lists it.
type dependentRow struct {
	Display, Repository, Version, Href string
}

// dependentsOf lists the packages of the domain depending on p, in the
// repositories the visitor may read; the total counts them all (readable).
func (h *Handler) dependentsOf(ctx context.Context, readable map[string]string, domain string, p formats.Package) ([]dependentRow, int, error) {
	ix, err := h.domainIndex(ctx, domain)
	if err != nil {
		return nil, 0, err
	}
	var rows []dependentRow
	total := 0
	for _, d := range ix.dependents[depKey(p)] {
		repo, ok := readable[d.repoID]
		if !ok || d.pkg == p {
			continue
		}
		total++
		if len(rows) < maxDependentsShown {
			rows = append(rows, dependentRow{Display: h.display(d.pkg), Repository: repo, Version: d.version,
				Href: Prefix + "/d/" + url.PathEscape(domain) + "/r/" + url.PathEscape(repo) + "/package?" + packageQuery(d.pkg, d.version)})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Display != rows[j].Display {
			return rows[i].Display < rows[j].Display
		}
		return rows[i].Repository < rows[j].Repository
	})
	return rows, total, nil
}
