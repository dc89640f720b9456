package resolver

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	advGen := r.advisorySet().gen
	if !formats.IsFresh(ctx) {
		if e := r.rendered.get(key); e != nil && e.regGen == regGen && e.pkgGen == pkgGen && e.advGen == advGen && (e.expires.IsZero() || r.now().Before(e.expires)) {
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
	r.rendered.put(key, &renderEntry{doc: doc, regGen: regGen, pkgGen: pkgGen, advGen: advGen, expires: res.expires})
	return doc, nil
}

// finish fills the validator and the compressed body.
func finish(doc *formats.Rendered) {
	setETag(doc)
	if len(doc.Body) >= 1024 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(doc.Body)
		zw.Close()
		doc.Gzip = buf.Bytes()
	}
}

// setETag fills the validator. The content type is part of it: two
// representations with the same bytes (PyPI's HTML types) must not share
// an ETag.
func setETag(doc *formats.Rendered) {
	h := sha256.New()
	h.Write([]byte(doc.ContentType))
	h.Write([]byte{0})
	h.Write(doc.Body)
	doc.ETag = `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

type renderEntry struct {
	doc     *formats.Rendered
	regGen  uint64
	pkgGen  uint64
	advGen  uint64 // generation of the known-malicious advisories
	expires time.Time
}

func (e *renderEntry) size() int64 { return int64(len(e.doc.Body) + len(e.doc.Gzip) + 256) }

// renderCache holds rendered documents within a bound in bytes; when full
// it drops arbitrary entries, which is enough since a dropped entry costs
// one rebuild. A document is kept from its second rendering on: one asked
// for once (a package a build needed one day) neither takes memory nor
// pushes out one asked for all the time.
type renderCache struct {
	limit   int64
	entries *boundedCache[*renderEntry]
	seen    *boundedCache[struct{}] // rendered once, not kept
}

// maxRenderSeen bounds the keys remembered as rendered once.
const maxRenderSeen = 10000

// maxRenderEntries bounds the documents kept, whatever their size.
const maxRenderEntries = 1 << 20

func newRenderCache(limit int64) *renderCache {
	return &renderCache{
		limit:   limit,
		entries: newBoundedCache(maxRenderEntries, limit, (*renderEntry).size),
		seen:    newBoundedCache[struct{}](maxRenderSeen, 0, nil),
	}
}

// used returns the bytes the kept documents take.
func (c *renderCache) used() int64 {
	c.entries.mu.RLock()
	defer c.entries.mu.RUnlock()
	return c.entries.used
}

func (c *renderCache) get(key string) *renderEntry {
	e, _ := c.entries.get(key)
	return e
}

func (c *renderCache) put(key string, e *renderEntry) {
	if e.size() > c.limit/4 {
		return
	}
	if _, kept := c.entries.get(key); !kept {
		if _, again := c.seen.get(key); !again {
			c.seen.put(key, struct{}{})
			return
		}
		c.seen.delete(key)
	}
	c.entries.put(key, e)
}
