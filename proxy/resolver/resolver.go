// Package resolver is Stockpile's engine: it walks a repository's upstream
// graph, merges what every repository and external connection reached knows
// of a package, fetches assets once however many clients ask, retains them in
// the right repositories, enforces origin controls and keeps rendered
// metadata ready for the warm path. It implements formats.Resolver.
//
// An npm tarball GET, from the route to the disk, function by function:
//
//  1. proxy/server.go mounts each format under /{domain}/{format}/{repository};
//     Server.repository (proxy/middleware.go) authenticates and authorises
//     the caller and hands the handlers a formats.RepoRef.
//  2. formats/npm: handler.serve parses the path (parsePath) into the
//     package, version and file, and handler.tarball calls ServeAsset.
//  3. ServeAsset (assets.go) calls asset, which calls lookup to decide where
//     the bytes come from, warmest first: Resolver.hot (hot.go: the location
//     remembered for this repository, package and file, valid while the
//     model's and the package's generations are unchanged, with the bytes of
//     small blobs kept in memory); lookupOwn, when the repository's own
//     version record (records.go: loadVersion) lists the file; lookupWalk,
//     which builds the merged view (view.go: view gathers every repository's
//     records and the external connections' packuments, read through the
//     caching getter of docs.go, then merges and guards it) and plans the
//     file from the repository that has it, or from an external connection.
//  4. A plan with a stored blob is served by serveBlob (serve.go: from
//     memory, or from the blob's file with sendfile; ranges and conditional
//     requests), and remember (hot.go) keeps the location for the next GET.
//  5. A plan without one goes to fetchAsset (fetch.go): fetchOnce runs one
//     flight per connection and URL however many clients ask; in it fetch
//     streams the upstream body into storage.Store.WriteBlob, which hashes
//     it and keeps it only if checkDigests finds the digests the packument
//     declared, while a tap (tap.go) copies it to the first client; retain
//     then writes the version record into the requested repository and the
//     one that owns the connection, before the tap releases the last bytes.
package resolver

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// Options tune the engine.
type Options struct {
	// FetchTimeout bounds one upstream fetch shared by many clients; it is
	// detached from any one client's request.
	FetchTimeout time.Duration
	// StaleRetry is how long a view built from a stale document is kept
	// before the upstream is tried again.
	StaleRetry time.Duration
	// RenderCacheBytes bounds the memory held by rendered documents.
	RenderCacheBytes int64
	// RepositoryDocBytes bounds the memory held by repository-wide
	// documents (RenderRepository), which can be tens of MB each.
	RepositoryDocBytes int64
	// MaxPublishSize bounds one published asset.
	MaxPublishSize int64
	// HotBlobBytes bounds the memory holding the bytes of small, recently
	// served blobs.
	HotBlobBytes int64
	// FreshWithin is how recent a revalidation must be for a forced one
	// (formats.Fresh) to be skipped.
	FreshWithin time.Duration
	// Now is the clock every TTL and deadline of the engine is measured
	// with; nil means time.Now. Tests pass a fake one and advance it.
	Now func() time.Time
	// ClusterLock, when set, takes a lock shared by every replica of the
	// store (storage/postgres's Lock); it is held around each upstream
	// fetch of an asset, so that one replica fetches while the others wait
	// and then serve the bytes it committed. nil: the fetch is shared
	// within this process only.
	ClusterLock func(ctx context.Context, name string) (unlock func(), err error)
	// ClusterWait bounds how long a replica waits for another's fetch
	// before fetching the asset itself; zero means two minutes.
	ClusterWait time.Duration
	// FetchWait, when set, is called each time a client starts waiting on
	// a shared upstream fetch of an asset (the first client included), and
	// each time a replica sharing the store starts its refresh of an
	// upstream document under the cluster lock, so a test can hold the
	// upstream until every client or replica has joined instead of
	// sleeping.
	FetchWait func()
	// Locker serialises the writers of one package; nil means
	// NewLocalLocker (one process). Replicas sharing a store pass one that
	// also holds a lock shared with the others.
	Locker Locker
}

func (o Options) withDefaults() Options {
	positiveOr(&o.FetchTimeout, time.Hour)
	positiveOr(&o.StaleRetry, 30*time.Second)
	positiveOr(&o.RenderCacheBytes, 64<<20)
	positiveOr(&o.RepositoryDocBytes, 512<<20)
	positiveOr(&o.ClusterWait, 2*time.Minute)
	positiveOr(&o.FreshWithin, 5*time.Second)
	positiveOr(&o.HotBlobBytes, 32<<20)
	positiveOr(&o.MaxPublishSize, 2<<30)
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// positiveOr sets *v to def when it is zero or less: not set.
func positiveOr[T ~int | ~int64](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Observer receives what the engine does, for metrics.
type Observer interface {
	Cache(format, outcome string)
	Upstream(conn string, d time.Duration, err error)
}

type nopObserver struct{}

func (nopObserver) Cache(string, string)                  {}
func (nopObserver) Upstream(string, time.Duration, error) {}

// Resolver implements formats.Resolver over a store, the model and the
// external connections.
type Resolver struct {
	store    storage.Store
	registry *model.Registry
	client   *upstream.Client
	formats  map[string]formats.Format
	log      *slog.Logger
	obs      Observer
	opts     Options
	now      func() time.Time

	docFlights   singleflight.Group
	assetFlights singleflight.Group
	repoFlights  singleflight.Group

	genMu sync.RWMutex
	gens  map[string]uint64 // domain\x00format\x00namespace\x00name → changes

	// The engine's locks and in-memory caches, one named field each, so
	// that a shared implementation (replicas) is swapped in one place.
	locks    Locker                   // writers of one package
	rendered *renderCache             // rendered documents (Render)
	repoDocs *boundedCache[*repoDoc]  // repository-wide documents (RenderRepository)
	hotCache *hotCache                // where assets are, and small blobs' bytes
	blobUser blobUser                 // the store, when it wants to hear of hot hits (hot.go)
	forced   *boundedCache[time.Time] // document key → last forced revalidation
	missing  *missingDocs             // documents the upstream has not, never cached
	codec    *docCodec                // cached documents, compressed
	marked   *boundedCache[struct{}]  // packages noted as requested again
	marks    chan requestMark         // notes waiting for RunRequestMarks

	advMu      sync.Mutex // serialises SetAdvisories
	advisories atomic.Pointer[blockSet]
}

// Locker serialises the writers of one package (the key names the domain
// and the package). Lock blocks until the key is free and returns the
// function that frees it.
type Locker interface {
	Lock(key string) (unlock func())
}

var _ formats.Resolver = (*Resolver)(nil)

// New builds a Resolver. obs may be nil.
func New(store storage.Store, registry *model.Registry, client *upstream.Client, fs []formats.Format, log *slog.Logger, obs Observer, opts Options) *Resolver {
	if obs == nil {
		obs = nopObserver{}
	}
	opts = opts.withDefaults()
	r := &Resolver{
		store: store, registry: registry, client: client, formats: map[string]formats.Format{},
		log: log, obs: obs, opts: opts, now: opts.Now,
		gens:     map[string]uint64{},
		rendered: newRenderCache(opts.RenderCacheBytes),
		repoDocs: newBoundedCache(maxRepoDocs, opts.RepositoryDocBytes, (*repoDoc).size),
		hotCache: newHotCache(opts.HotBlobBytes),
		locks:    opts.Locker,
		forced:   newBoundedCache[time.Time](maxForced, 0, nil),
		codec:    newDocCodec(),
		missing:  newMissingDocs(),
		marked:   newBoundedCache[struct{}](maxMarked, 0, nil),
		marks:    make(chan requestMark, requestQueue),
	}
	if r.locks == nil {
		r.locks = NewLocalLocker()
	}
	r.blobUser, _ = store.(blobUser)
	for _, f := range fs {
		r.formats[f.Name()] = f
	}
	r.advisories.Store(&blockSet{})
	return r
}

func genKey(domain string, p formats.Package) string {
	return domain + "\x00" + p.Format + "\x00" + p.Namespace + "\x00" + p.Name
}

func (r *Resolver) generation(domain string, p formats.Package) uint64 {
	r.genMu.RLock()
	defer r.genMu.RUnlock()
	return r.gens[genKey(domain, p)]
}

// touch records that something stored about p in domain changed, so every
// rendered view of it is rebuilt.
func (r *Resolver) touch(domain string, p formats.Package) {
	r.genMu.Lock()
	r.gens[genKey(domain, p)]++
	r.genMu.Unlock()
}

// touchEverywhere is touch in every domain: an upstream document is kept
// per connection, and every domain reaching that connection renders from it.
func (r *Resolver) touchEverywhere(p formats.Package) {
	for _, d := range r.registry.Domains() {
		r.touch(d.Name, p)
	}
}

// conn returns the external connection of a walk step when it serves format.
func (r *Resolver) conn(step model.Step, format string) (*upstream.Conn, error) {
	c, err := r.client.Conn(step.Repo.ExternalConnection)
	if err != nil {
		return nil, err
	}
	if c.Format() != format {
		return nil, nil
	}
	return c, nil
}

func (r *Resolver) format(name string) (formats.Format, error) {
	f, ok := r.formats[name]
	if !ok {
		return nil, fmt.Errorf("%w: format %q is not served", formats.ErrNotFound, name)
	}
	return f, nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}

// maxForced bounds the documents remembered as revalidated by force.
const maxForced = 10000

// NewLocalLocker returns the in-process Locker.
func NewLocalLocker() Locker { return &keyedMutex{} }

// keyedMutex is the in-process Locker.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	n int
}

// Lock implements Locker.
func (k *keyedMutex) Lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.n++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		l.n--
		if l.n == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
