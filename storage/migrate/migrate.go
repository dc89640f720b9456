// Package migrate copies everything one store holds into another (stockpile
// migrate: from the embedded Badger store to PostgreSQL and S3): every blob
// of every domain, verified by its digests, then every record, with the
// time a record with a TTL has left. A copy can be stopped and run again:
// blobs already in the destination with the same sums are skipped and
// records are overwritten. At the end it counts both sides.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
)

// expiryScanner is a store that tells records' expiry times
// (badgerstore). Without it, records are copied without a TTL.
type expiryScanner interface {
	ScanExpiry(ctx context.Context, prefix []byte, fn func(key, value []byte, expires time.Time) error) error
}

// Progress is what a copy has done so far.
type Progress struct {
	Domain       string
	Blobs        int // blobs copied or found already copied
	BlobsSkipped int // of which found already in the destination
	Bytes        int64
	Records      int
}

// Report is the outcome of a copy: what it did and what both sides hold.
type Report struct {
	Progress
	SourceBlobs, DestBlobs     int
	SourceRecords, DestRecords int
}

// batch is how many records one atomic write to the destination carries.
const batch = 500

// Copy copies src into dst, calling progress now and then (it may be nil),
// and checks that dst then holds every blob and record src holds. Domains
// are the domains whose blobs to copy: the names in src's domain records.
func Copy(ctx context.Context, src, dst storage.Store, progress func(Progress)) (Report, error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	var rep Report
	domains, err := domainsOf(ctx, src)
	if err != nil {
		return rep, err
	}
	for _, d := range domains {
		rep.Domain = d
		if err := copyBlobs(ctx, src, dst, d, &rep.Progress, progress); err != nil {
			return rep, err
		}
	}
	rep.Domain = ""
	if err := copyRecords(ctx, src, dst, &rep.Progress, progress); err != nil {
		return rep, err
	}
	progress(rep.Progress)
	return rep, verify(ctx, src, dst, domains, &rep)
}

// domainsOf lists the domain names of src's domain records.
func domainsOf(ctx context.Context, s storage.Store) ([]string, error) {
	var names []string
	err := s.Scan(ctx, storage.DomainsPrefix(), func(k, _ []byte) error {
		_, parts := storage.SplitKey(k)
		if len(parts) != 1 {
			return fmt.Errorf("migrate: domain record key %q", k)
		}
		names = append(names, parts[0])
		return nil
	})
	return names, err
}

// copyBlobs copies the blobs of domain that dst lacks, each checked against
// the sums src has for it.
func copyBlobs(ctx context.Context, src, dst storage.Store, domain string, p *Progress, progress func(Progress)) error {
	var all []storage.BlobInfo
	if err := src.ListBlobs(ctx, domain, func(bi storage.BlobInfo) error { all = append(all, bi); return nil }); err != nil {
		return fmt.Errorf("migrate: listing the blobs of %s: %w", domain, err)
	}
	for _, bi := range all {
		if got, err := dst.StatBlob(ctx, domain, bi.SHA256); err == nil && got == bi.Sums {
			p.Blobs++
			p.BlobsSkipped++
			continue
		} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("migrate: %w", err)
		}
		r, err := src.OpenBlob(ctx, domain, bi.SHA256)
		if errors.Is(err, storage.ErrNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			return fmt.Errorf("migrate: opening blob %s/%s: %w", domain, bi.SHA256, err)
		}
		_, err = dst.WriteBlob(ctx, domain, r, func(s storage.Sums) error {
			if s != bi.Sums {
				return fmt.Errorf("the bytes read do not match the source's sums (%d bytes, SHA-256 %s)", s.Size, s.SHA256)
			}
			return nil
		})
		r.Close()
		if err != nil {
			return fmt.Errorf("migrate: copying blob %s/%s: %w", domain, bi.SHA256, err)
		}
		p.Blobs++
		p.Bytes += bi.Size
		if p.Blobs%100 == 0 {
			progress(*p)
		}
	}
	return nil
}

// copyRecords copies every record in batches, each atomic; a record with a
// TTL keeps the time it has left, and one that expired on the way is not
// copied.
func copyRecords(ctx context.Context, src, dst storage.Store, p *Progress, progress func(Progress)) error {
	var muts []storage.Mutation
	flush := func() error {
		if len(muts) == 0 {
			return nil
		}
		if err := dst.Apply(ctx, muts); err != nil {
			return fmt.Errorf("migrate: writing records: %w", err)
		}
		p.Records += len(muts)
		muts = muts[:0]
		progress(*p)
		return nil
	}
	add := func(k, v []byte, expires time.Time) error {
		var ttl time.Duration
		if !expires.IsZero() {
			if ttl = time.Until(expires); ttl <= 0 {
				return nil
			}
		}
		muts = append(muts, storage.Mutation{Key: append([]byte(nil), k...), Value: append([]byte{}, v...), TTL: ttl})
		return nil
	}
	// Records are gathered a batch at a time, written between scans: fn
	// may not call the store, and the destination is another store.
	var err error
	if es, ok := src.(expiryScanner); ok {
		err = es.ScanExpiry(ctx, nil, add)
	} else {
		err = src.Scan(ctx, nil, func(k, v []byte) error { return add(k, v, time.Time{}) })
	}
	if err != nil {
		return fmt.Errorf("migrate: reading records: %w", err)
	}
	for len(muts) > 0 {
		n := min(batch, len(muts))
		rest := append([]storage.Mutation(nil), muts[n:]...)
		muts = muts[:n]
		if err := flush(); err != nil {
			return err
		}
		muts = rest
	}
	return nil
}

// verify counts the blobs and records of both sides. Every blob of src must
// be in dst with the same sums; dst may hold more records and blobs than
// src (a destination in use), never fewer.
func verify(ctx context.Context, src, dst storage.Store, domains []string, rep *Report) error {
	for _, d := range domains {
		var missing []string
		err := src.ListBlobs(ctx, d, func(bi storage.BlobInfo) error {
			rep.SourceBlobs++
			missing = append(missing, bi.SHA256)
			return nil
		})
		if err != nil {
			return fmt.Errorf("migrate: verify: %w", err)
		}
		for _, sha := range missing {
			if _, err := dst.StatBlob(ctx, d, sha); err != nil {
				return fmt.Errorf("migrate: verify: blob %s/%s is not in the destination: %w", d, sha, err)
			}
		}
		if err := dst.ListBlobs(ctx, d, func(storage.BlobInfo) error { rep.DestBlobs++; return nil }); err != nil {
			return fmt.Errorf("migrate: verify: %w", err)
		}
	}
	count := func(s storage.Store) (int, error) {
		n := 0
		err := s.Scan(ctx, nil, func(_, _ []byte) error { n++; return nil })
		return n, err
	}
	var err error
	if rep.SourceRecords, err = count(src); err != nil {
		return fmt.Errorf("migrate: verify: %w", err)
	}
	if rep.DestRecords, err = count(dst); err != nil {
		return fmt.Errorf("migrate: verify: %w", err)
	}
	if rep.DestRecords < rep.SourceRecords || rep.DestBlobs < rep.SourceBlobs {
		return fmt.Errorf("migrate: verify: the destination holds %d records and %d blobs, the source %d and %d",
			rep.DestRecords, rep.DestBlobs, rep.SourceRecords, rep.SourceBlobs)
	}
	return nil
}
