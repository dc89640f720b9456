package resolver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/storage"
)

// Corruption at rest: a blob whose bytes no longer hash to its SHA-256 is
// never served as good. Small blobs are checked when they are read into
// memory (remember); Check (stockpile fsck, offline) and Scrub (online, at a
// bounded rate) rehash every blob. A corrupt blob is taken out of service
// (deleted); the versions that referred to it keep their records, and the
// next request for one fetches its bytes again from the upstream it came
// from, verifying them against the recorded digests, when it has one.

// errCorrupt marks a blob whose bytes do not match its SHA-256.
var errCorrupt = errors.New("blob bytes do not match their SHA-256")

// verifyBytes checks bytes read into memory against their digest.
func verifyBytes(b []byte, sums storage.Sums) error {
	got := sha256.Sum256(b)
	if int64(len(b)) != sums.Size || hex.EncodeToString(got[:]) != sums.SHA256 {
		return errCorrupt
	}
	return nil
}

// takeOut removes a corrupt blob from the store and from the hot cache, and
// says so in the log.
func (r *Resolver) takeOut(ctx context.Context, domain string, sums storage.Sums, how string) error {
	r.log.Error("corrupt blob taken out of service: its versions are fetched again from their upstream on the next request, or reported by stockpile fsck",
		"domain", domain, "sha256", sums.SHA256, "size", sums.Size, "found_by", how)
	r.hotCache.forget(sums.SHA256)
	if err := r.store.DeleteBlob(ctx, domain, sums.SHA256); err != nil {
		return fmt.Errorf("take out corrupt blob: %w", err)
	}
	return nil
}

// forget drops a blob's bytes and the assets that point at it.
func (c *hotCache) forget(sha string) {
	c.blobs.delete(sha)
	c.assets.deleteIf(func(a hotAsset) bool { return a.sums.SHA256 == sha })
}

// Clock is the time a scrub paces itself by; tests inject their own.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx is done (then it returns ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// CheckOptions tune a check of the blobs.
type CheckOptions struct {
	// Rate bounds the bytes read per second; 0 reads as fast as it can.
	Rate int64
	// Clock paces the reads; nil is the real clock.
	Clock Clock
	// DryRun reports corrupt blobs without taking them out.
	DryRun bool
}

// Finding is a corrupt blob and the versions that referred to it.
type Finding struct {
	Domain   string
	Sums     storage.Sums
	Versions []AffectedVersion
}

// AffectedVersion is a version whose asset was a corrupt blob.
type AffectedVersion struct {
	Repository string
	Package    formats.Package
	Version    string
	Asset      string
	// Refetch is true when the version came from an external connection
	// that the next request fetches the bytes from again; false means the
	// bytes are lost here (a published version, or no upstream location).
	Refetch bool
}

// CheckStats counts what a check did.
type CheckStats struct {
	Blobs, Bytes, Corrupt int64
}

// Check rehashes every blob of every domain, one at a time at opts.Rate,
// takes the corrupt ones out of service (unless opts.DryRun) and reports
// each with the versions that referred to it.
func (r *Resolver) Check(ctx context.Context, opts CheckOptions, report func(Finding)) (CheckStats, error) {
	var st CheckStats
	for _, d := range r.registry.Domains() {
		corrupt, err := r.checkDomain(ctx, d.Name, opts, &st)
		if err != nil {
			return st, err
		}
		if len(corrupt) == 0 {
			continue
		}
		findings, err := r.affected(ctx, d.Name, corrupt)
		if err != nil {
			return st, err
		}
		for _, f := range findings {
			report(f)
		}
	}
	return st, nil
}

// checkDomain rehashes the blobs of one domain and returns the corrupt ones.
func (r *Resolver) checkDomain(ctx context.Context, domain string, opts CheckOptions, st *CheckStats) ([]storage.Sums, error) {
	var all []storage.Sums
	if err := r.store.ListBlobs(ctx, domain, func(b storage.BlobInfo) error {
		all = append(all, b.Sums)
		return nil
	}); err != nil {
		return nil, err
	}
	clock := opts.Clock
	if clock == nil {
		clock = realClock{}
	}
	var corrupt []storage.Sums
	for _, sums := range all {
		ok, err := r.checkBlob(ctx, domain, sums, opts.Rate, clock)
		if errors.Is(err, storage.ErrNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			return corrupt, err
		}
		st.Blobs++
		st.Bytes += sums.Size
		if ok {
			continue
		}
		st.Corrupt++
		corrupt = append(corrupt, sums)
		if !opts.DryRun {
			if err := r.takeOut(ctx, domain, sums, "check"); err != nil {
				return corrupt, err
			}
		}
	}
	return corrupt, nil
}

// checkBlob rehashes one blob, reading at most rate bytes per second.
func (r *Resolver) checkBlob(ctx context.Context, domain string, sums storage.Sums, rate int64, clock Clock) (bool, error) {
	blob, err := r.store.OpenBlob(ctx, domain, sums.SHA256)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return false, err
		}
		// A file missing or of the wrong size is corrupt too.
		r.log.Warn("blob cannot be read", "domain", domain, "sha256", sums.SHA256, "error", err.Error())
		return false, nil
	}
	defer blob.Close()
	h := sha256.New()
	var n int64
	buf := make([]byte, 256<<10)
	start := clock.Now()
	for {
		k, err := blob.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if rate > 0 && k > 0 {
			// Pace: n bytes may take n/rate seconds from the start.
			due := time.Duration(float64(n) / float64(rate) * float64(time.Second))
			if wait := due - clock.Now().Sub(start); wait > 0 {
				if err := clock.Sleep(ctx, wait); err != nil {
					return false, err
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, fmt.Errorf("check blob %s: %w", sums.SHA256, err)
		}
	}
	return n == sums.Size && hex.EncodeToString(h.Sum(nil)) == sums.SHA256, nil
}

// affected finds the versions of a domain whose assets are corrupt blobs.
func (r *Resolver) affected(ctx context.Context, domain string, corrupt []storage.Sums) ([]Finding, error) {
	idx := map[string]*Finding{}
	var out []*Finding
	for _, s := range corrupt {
		f := &Finding{Domain: domain, Sums: s}
		idx[s.SHA256] = f
		out = append(out, f)
	}
	names := map[string]string{}
	if repos, err := r.registry.Repositories(domain); err == nil {
		for _, repo := range repos {
			names[repo.ID] = repo.Name
		}
	}
	prefix, err := storage.DomainVersionsPrefix(domain)
	if err != nil {
		return nil, err
	}
	err = r.store.Scan(ctx, prefix, func(k, v []byte) error {
		var rec VersionRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("check: decode version record: %w", err)
		}
		for _, a := range rec.Assets {
			f := idx[a.Digests.SHA256]
			if f == nil || rec.Status == formats.StatusDisposed {
				continue
			}
			av := AffectedVersion{Version: rec.Version.Version, Asset: a.Name, Refetch: rec.Origin.Connection != "" && a.URL != ""}
			// domain, repository id, format, namespace, name, version
			if _, parts := storage.SplitKey(k); len(parts) == 6 {
				av.Repository = names[parts[1]]
				av.Package = formats.Package{Format: parts[2], Namespace: parts[3], Name: parts[4]}
			}
			f.Versions = append(f.Versions, av)
		}
		return nil
	})
	res := make([]Finding, len(out))
	for i, f := range out {
		res[i] = *f
	}
	return res, err
}

// ScrubOptions tune the online scrub.
type ScrubOptions struct {
	// Rate is the bytes read per second; the scrub does nothing when it is
	// not positive.
	Rate int64
	// Interval is the least time from the start of one pass over every
	// blob to the start of the next.
	Interval time.Duration
	Clock    Clock
}

// Scrub checks every blob again and again, one at a time at opts.Rate,
// until ctx is done, taking corrupt blobs out of service.
func (r *Resolver) Scrub(ctx context.Context, opts ScrubOptions) {
	if opts.Rate <= 0 {
		return
	}
	clock := opts.Clock
	if clock == nil {
		clock = realClock{}
	}
	for ctx.Err() == nil {
		start := clock.Now()
		st, err := r.Check(ctx, CheckOptions{Rate: opts.Rate, Clock: clock}, func(f Finding) {
			for _, v := range f.Versions {
				r.log.Warn("version lost the bytes of an asset to corruption", "domain", f.Domain, "repository", v.Repository,
					"format", v.Package.Format, "namespace", v.Package.Namespace, "package", v.Package.Name, "version", v.Version,
					"asset", v.Asset, "refetch", v.Refetch)
			}
		})
		if err != nil && ctx.Err() == nil {
			r.log.Error("scrub failed", "error", err.Error())
		}
		if ctx.Err() == nil {
			r.log.Info("scrub pass done", "blobs", st.Blobs, "bytes", st.Bytes, "corrupt", st.Corrupt)
		}
		if wait := opts.Interval - clock.Now().Sub(start); wait > 0 {
			if clock.Sleep(ctx, wait) != nil {
				return
			}
		}
	}
}
