package resolver

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Render implements formats.Resolver. A warm call is a map lookup: the
// rendered document is rebuilt only when the model, anything stored about
// the package in the domain, or a freshness deadline of an upstream document
// behind it has changed.
func (r *Resolver) Render(ctx context.Context, ref formats.RepoRef, p formats.Package, variant string, render func(*formats.View) (*formats.Rendered, error)) (*formats.Rendered, error) {
	if err := CheckNames(ref.Domain, p, "", ""); err != nil {
		return nil, err
	}
	key := ref.Domain + "\x00" + ref.Repository + "\x00" + genKey("", p) + "\x00" + variant
	regGen := r.registry.Generation()
	pkgGen := r.generation(ref.Domain, p)
	if !formats.IsFresh(ctx) {
		if e := r.rendered.get(key); e != nil && e.regGen == regGen && e.pkgGen == pkgGen && (e.expires.IsZero() || r.now().Before(e.expires)) {
			setOutcome(ctx, "hit")
			r.obs.Cache(p.Format, "hit")
			return e.doc, nil
		}
	}
	res, err := r.view(ctx, ref, p, false)
	if err != nil {
		return nil, err
	}
	doc, err := render(res.view)
	if err != nil {
		return nil, err
	}
	finish(doc)
	if t := traceFrom(ctx); t != nil {
		if cache, _ := t.Outcome(); cache != "" {
			r.obs.Cache(p.Format, cache)
		}
	}
	r.rendered.put(key, &renderEntry{doc: doc, regGen: regGen, pkgGen: pkgGen, expires: res.expires})
	return doc, nil
}

// finish fills the validator and the compressed body.
func finish(doc *formats.Rendered) {
	// The content type is part of the validator: two representations with
	// the same bytes (PyPI's HTML types) must not share an ETag.
	h := sha256.New()
	h.Write([]byte(doc.ContentType))
	h.Write([]byte{0})
	h.Write(doc.Body)
	doc.ETag = `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
	if len(doc.Body) >= 1024 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(doc.Body)
		zw.Close()
		doc.Gzip = buf.Bytes()
	}
}

type renderEntry struct {
	doc     *formats.Rendered
	regGen  uint64
	pkgGen  uint64
	expires time.Time
}

func (e *renderEntry) size() int64 { return int64(len(e.doc.Body) + len(e.doc.Gzip) + 256) }

// renderCache is a size-bounded map; when full it drops arbitrary entries,
// which is enough since a dropped entry costs one rebuild. A document is
// kept from its second rendering on: one asked for once (a package a build
// needed one day) neither takes memory nor pushes out one asked for all the
// time.
type renderCache struct {
	mu      sync.RWMutex
	limit   int64
	used    int64
	entries map[string]*renderEntry
	seen    map[string]struct{} // rendered once, not kept
}

// maxRenderSeen bounds the keys remembered as rendered once.
const maxRenderSeen = 10000

func newRenderCache(limit int64) *renderCache {
	return &renderCache{limit: limit, entries: map[string]*renderEntry{}, seen: map[string]struct{}{}}
}

func (c *renderCache) get(key string) *renderEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.entries[key]
}

func (c *renderCache) put(key string, e *renderEntry) {
	if e.size() > c.limit/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.entries[key]
	if ok {
		c.used -= old.size()
	} else if _, again := c.seen[key]; !again {
		if len(c.seen) >= maxRenderSeen {
			clear(c.seen) // a bound, not a policy: forgetting costs one rebuild
		}
		c.seen[key] = struct{}{}
		return
	}
	delete(c.seen, key)
	for k, old := range c.entries {
		if c.used+e.size() <= c.limit {
			break
		}
		c.used -= old.size()
		delete(c.entries, k)
	}
	c.entries[key] = e
	c.used += e.size()
}
