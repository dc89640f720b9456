package resolver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// maxDocument bounds an upstream metadata document.
const maxDocument = 256 << 20

// docHeader is what is kept with a cached upstream document.
type docHeader struct {
	URL          string    `json:"url"`
	ContentType  string    `json:"contentType,omitempty"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"lastModified,omitempty"`
	FetchedAt    time.Time `json:"fetchedAt"`
	NotFound     bool      `json:"notFound,omitempty"`
	// Encoding is how the stored body is compressed ("" or "zstd"); a
	// decoded document's body is always plain.
	Encoding string `json:"enc,omitempty"`
}

type cachedDoc struct {
	docHeader
	Body []byte
}

// getter implements formats.Getter for one external connection, caching
// documents in storage under the connection's TTL. It records the earliest
// moment one of the documents it served stops being fresh.
type getter struct {
	r    *Resolver
	conn *upstream.Conn

	mu      sync.Mutex
	expires time.Time // zero: nothing served
	stale   bool
	// changed is set when a refresh found a document different from the
	// one held (new bytes, a new document, or one the upstream dropped).
	changed bool
}

var _ formats.Getter = (*getter)(nil)

func (g *getter) note(exp time.Time, stale bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.expires.IsZero() || exp.Before(g.expires) {
		g.expires = exp
	}
	g.stale = g.stale || stale
}

func (g *getter) noteChanged() {
	g.mu.Lock()
	g.changed = true
	g.mu.Unlock()
}

// changedDocs reports whether a document served was found changed.
func (g *getter) changedDocs() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.changed
}

// Get implements formats.Getter.
func (g *getter) Get(ctx context.Context, ref, accept string) (*formats.Document, error) {
	u, err := g.conn.Resolve(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", formats.ErrInvalid, err)
	}
	opts := g.conn.Options()
	dk := storage.DocumentKey{Conn: g.conn.Name(), URL: u, Accept: accept}
	key, err := dk.Bytes()
	if err != nil {
		return nil, err
	}
	tkey, err := dk.Revalidated()
	if err != nil {
		return nil, err
	}
	now := g.r.now()
	fresh := formats.IsFresh(ctx)
	// A name the upstream lacks is answered from memory, without reading
	// the store: refreshes of one key run one at a time and a stored
	// document clears the mark, so none is stored while it is set.
	if until, ok := g.r.missing.get(string(key), now); ok && !fresh {
		g.note(until, false)
		setOutcome(ctx, "negative")
		return nil, fmt.Errorf("%s: %w", u, upstream.ErrNotFound)
	}
	cur, err := g.load(ctx, key, tkey)
	if err != nil {
		return nil, err
	}
	// A forced revalidation (formats.Fresh) is honoured at most once per
	// FreshWithin per document: clients asking again and again for a
	// version that does not exist must not turn into as many upstream calls.
	if cur != nil && fresh && !cur.NotFound && g.r.forcedRecently(string(key), now) {
		g.note(cur.FetchedAt.Add(opts.TTL), false)
		setOutcome(ctx, "hit")
		return cur.document(), nil
	}
	if cur != nil && !fresh {
		if cur.NotFound && now.Sub(cur.FetchedAt) < opts.NegativeTTL {
			g.note(cur.FetchedAt.Add(opts.NegativeTTL), false)
			setOutcome(ctx, "negative")
			return nil, fmt.Errorf("%s: %w", u, upstream.ErrNotFound)
		}
		if !cur.NotFound && now.Sub(cur.FetchedAt) < opts.TTL {
			g.note(cur.FetchedAt.Add(opts.TTL), false)
			setOutcome(ctx, "hit")
			return cur.document(), nil
		}
	}
	v, err, _ := g.r.docFlights.Do(string(key), func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.r.opts.FetchTimeout)
		defer cancel()
		return g.refreshShared(fctx, key, tkey, u, accept, cur)
	})
	if err != nil {
		if errors.Is(err, upstream.ErrNotFound) {
			if cur != nil && !cur.NotFound {
				g.noteChanged()
			}
			g.note(now.Add(opts.NegativeTTL), false)
			setOutcome(ctx, "miss")
			return nil, err
		}
		if cur != nil && !cur.NotFound {
			g.r.log.Warn("serving stale upstream document", "upstream", g.conn.Name(), "url", redact(u), "age", now.Sub(cur.FetchedAt).Round(time.Second).String(), "error", err.Error())
			g.note(now.Add(g.r.opts.StaleRetry), true)
			setOutcome(ctx, "stale")
			return cur.document(), nil
		}
		return nil, err
	}
	res := v.(*refreshResult)
	if res.outcome == "miss" && (cur == nil || cur.NotFound || !bytes.Equal(cur.Body, res.doc.Body)) {
		g.noteChanged()
	}
	g.note(res.doc.FetchedAt.Add(opts.TTL), false)
	setOutcome(ctx, res.outcome)
	return res.doc.document(), nil
}

// Do implements formats.Getter.
func (g *getter) Do(ctx context.Context, method, ref string, header http.Header, body io.Reader) (*http.Response, error) {
	return g.conn.Do(ctx, method, ref, header, body)
}

type refreshResult struct {
	doc     *cachedDoc
	outcome string
}

// refreshShared is refresh across the replicas sharing the store: under
// the document's cluster lock, one replica fetches while the others wait,
// and one that gets the lock after another's fetch serves the document that
// one stored instead of asking the upstream again. Without a cluster lock
// it is refresh. (A 404 is remembered by each replica on its own.)
func (g *getter) refreshShared(ctx context.Context, key, tkey []byte, u, accept string, cur *cachedDoc) (*refreshResult, error) {
	if g.r.opts.ClusterLock == nil {
		return g.refresh(ctx, key, tkey, u, accept, cur)
	}
	if g.r.opts.FetchWait != nil {
		g.r.opts.FetchWait()
	}
	sum := sha256.Sum256(key)
	unlock := g.r.clusterLock(ctx, "doc/"+hex.EncodeToString(sum[:]))
	defer unlock()
	latest, err := g.load(ctx, key, tkey)
	if err != nil {
		return nil, err
	}
	if latest != nil && !latest.NotFound && (cur == nil || latest.FetchedAt.After(cur.FetchedAt)) &&
		g.r.now().Sub(latest.FetchedAt) < g.conn.Options().TTL {
		return &refreshResult{doc: latest, outcome: "hit"}, nil
	}
	if latest != nil {
		cur = latest
	}
	return g.refresh(ctx, key, tkey, u, accept, cur)
}

func (g *getter) refresh(ctx context.Context, key, tkey []byte, u, accept string, cur *cachedDoc) (*refreshResult, error) {
	req := upstream.Request{Accept: accept, Document: true}
	if cur != nil && !cur.NotFound {
		req.IfNoneMatch = cur.ETag
		req.IfModifiedSince = cur.LastModified
	}
	start := g.r.now()
	resp, err := g.conn.Get(ctx, u, req)
	g.r.obs.Upstream(g.conn.Name(), g.r.now().Sub(start), err)
	if errors.Is(err, upstream.ErrNotFound) {
		now, ttl := g.r.now(), g.conn.Options().NegativeTTL
		if cur != nil && !cur.NotFound {
			// The upstream dropped a document we hold: replace it, durably.
			neg := &cachedDoc{docHeader: docHeader{URL: u, FetchedAt: now, NotFound: true}}
			g.save(ctx, key, neg, ttl)
		} else {
			g.r.missing.add(string(key), now.Add(ttl), now)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.NotModified && cur != nil {
		// Only the time moves: record it beside the document rather than
		// writing the document again (a packument can be megabytes, and
		// some are revalidated every few minutes).
		next := *cur
		next.FetchedAt = g.r.now()
		var ts [8]byte
		binary.BigEndian.PutUint64(ts[:], uint64(next.FetchedAt.UnixNano()))
		if err := g.r.store.Put(ctx, tkey, ts[:], 0); err != nil {
			g.r.log.Error("recording a revalidation failed", "upstream", g.conn.Name(), "error", err.Error())
		}
		return &refreshResult{doc: &next, outcome: "revalidated"}, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("upstream %s: read %s: %w", g.conn.Name(), redact(u), errors.Join(err, upstream.ErrUnavailable))
	}
	if len(body) > maxDocument {
		return nil, fmt.Errorf("upstream %s: document %s is larger than %d bytes: %w", g.conn.Name(), redact(u), maxDocument, upstream.ErrUnavailable)
	}
	doc := &cachedDoc{docHeader: docHeader{
		URL:          resp.URL,
		ContentType:  resp.Header.Get("Content-Type"),
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		FetchedAt:    g.r.now(),
	}, Body: body}
	if doc.URL == "" {
		doc.URL = u
	}
	g.save(ctx, key, doc, 0)
	g.r.missing.forget(string(key))
	return &refreshResult{doc: doc, outcome: "miss"}, nil
}

func (g *getter) load(ctx context.Context, key, tkey []byte) (*cachedDoc, error) {
	b, err := g.r.store.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cached document: %w", err)
	}
	d, err := g.r.codec.decode(b)
	if err != nil {
		// A record we cannot read is treated as absent and rewritten.
		g.r.log.Warn("dropping unreadable cached document", "upstream", g.conn.Name(), "error", err.Error())
		return nil, nil
	}
	if ts, err := g.r.store.Get(ctx, tkey); err == nil && len(ts) == 8 {
		if t := time.Unix(0, int64(binary.BigEndian.Uint64(ts))); t.After(d.FetchedAt) {
			d.FetchedAt = t
		}
	}
	return d, nil
}

// save writes a document; failing to cache is logged, not fatal to the request.
func (g *getter) save(ctx context.Context, key []byte, d *cachedDoc, ttl time.Duration) {
	b, err := g.r.codec.encode(d)
	if err == nil {
		err = g.r.store.Put(ctx, key, b, ttl)
	}
	if err != nil {
		g.r.log.Error("caching upstream document failed", "upstream", g.conn.Name(), "error", err.Error())
	}
}

func (d *cachedDoc) document() *formats.Document {
	doc := &formats.Document{URL: d.URL, Body: d.Body, ContentType: d.ContentType}
	if t, err := http.ParseTime(d.LastModified); err == nil {
		doc.LastModified = t.UTC()
	}
	return doc
}

// PublishTimes implements formats.PublishTimer: the connection's
// publish_times.
func (g *getter) PublishTimes() string {
	if pt := g.conn.Options().PublishTimes; pt != "" {
		return pt
	}
	return formats.PublishTimesMetadata
}

// forcedRecently reports whether a forced revalidation of the document at key
// happened within FreshWithin, and records one now when not.
func (r *Resolver) forcedRecently(key string, now time.Time) bool {
	_, recorded := r.forced.swap(key, func(t time.Time, ok bool) (time.Time, bool) {
		if ok && now.Sub(t) < r.opts.FreshWithin {
			return t, false
		}
		return now, true
	})
	return !recorded
}
