package resolver

import (
	"context"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/storage"
)

// Which cached packages were requested again (PackageRecord.RequestedAgain)
// is learnt without a write per warm hit: the warm path notes a package at
// most once per process (a bit in its hot-cache entry, then a bounded set in
// memory), and RunRequestMarks sets the flag in the background, once per
// package and repository ever. A note dropped (queue full, no runner, a
// restart) costs nothing but a later note.

// maxMarked bounds the packages remembered as noted.
const maxMarked = 100000

// requestQueue bounds the notes waiting for RunRequestMarks.
const requestQueue = 4096

// requestMark is a package of a domain served again.
type requestMark struct {
	domain string
	p      formats.Package
}

// noteRequested notes that a client was served an asset of p in domain from
// what is stored. hotKey, when set, is the hot-cache entry it came from,
// marked so the next hit skips this.
func (r *Resolver) noteRequested(domain string, p formats.Package, hotKey string) {
	key := genKey(domain, p)
	if _, done := r.marked.get(key); !done {
		select {
		case r.marks <- requestMark{domain: domain, p: p}:
			r.marked.put(key, struct{}{})
		default:
			return // noted again on a later hit
		}
	}
	if hotKey != "" {
		r.hotCache.markHot(hotKey)
	}
}

// RunRequestMarks writes the notes of noteRequested until ctx ends; the
// server runs it. Without it the notes are dropped.
func (r *Resolver) RunRequestMarks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-r.marks:
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			if err := r.markRequested(wctx, m.domain, m.p); err != nil && ctx.Err() == nil {
				r.log.Warn("recording a package as requested again failed", "domain", m.domain, "package", r.displayName(m.p), "error", err.Error())
				r.marked.delete(genKey(m.domain, m.p))
			}
			cancel()
		}
	}
}

// markRequested sets RequestedAgain on p's package record in every
// repository of domain that holds one without it, in one batch under p's
// lock. Nothing rendered depends on the flag: no generation changes.
func (r *Resolver) markRequested(ctx context.Context, domain string, p formats.Package) error {
	repos, err := r.registry.Repositories(domain)
	if err != nil {
		return err
	}
	unlock := r.locks.Lock(genKey(domain, p))
	defer unlock()
	var muts []storage.Mutation
	for _, repo := range repos {
		rec, err := r.loadPackage(ctx, domain, repo.ID, p)
		if err != nil {
			return err
		}
		if rec == nil || rec.RequestedAgain {
			continue
		}
		rec.RequestedAgain = true
		if muts, err = appendMutation(muts, pkgKey(domain, repo.ID, p), rec); err != nil {
			return err
		}
	}
	return r.applyAny(ctx, muts)
}
