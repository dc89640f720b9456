package resolver

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/storage"
)

// CollectGarbage deletes the blobs of every domain that no version record
// refers to any more (after a dispose, a delete, or a write whose record
// never came), sparing blobs touched within grace, whose references may be
// on their way. A Disposed version's record does not count as a reference.
// It returns how many blobs it deleted.
func (r *Resolver) CollectGarbage(ctx context.Context, grace time.Duration) (int, error) {
	deleted := 0
	for _, d := range r.registry.Domains() {
		n, err := r.collectDomain(ctx, d.Name, grace)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

func (r *Resolver) collectDomain(ctx context.Context, domain string, grace time.Duration) (int, error) {
	// The cut-off is taken before the references are read: a blob written
	// after this moment is spared whatever the scan saw.
	cutoff := r.now().Add(-grace)
	used := map[string]bool{}
	prefix, err := storage.DomainVersionsPrefix(domain)
	if err != nil {
		return 0, err
	}
	err = r.store.Scan(ctx, prefix, func(_, v []byte) error {
		var rec struct {
			Status formats.Status     `json:"status"`
			Assets []formats.AssetRef `json:"assets"`
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("gc: decode version record: %w", err)
		}
		if rec.Status == formats.StatusDisposed {
			return nil
		}
		for _, a := range rec.Assets {
			if a.Digests.SHA256 != "" {
				used[a.Digests.SHA256] = true
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	var doomed []string
	err = r.store.ListBlobs(ctx, domain, func(b storage.BlobInfo) error {
		if !used[b.SHA256] && b.Touched.Before(cutoff) {
			doomed = append(doomed, b.SHA256)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for i, sum := range doomed {
		if err := r.store.DeleteBlob(ctx, domain, sum); err != nil {
			return i, err
		}
	}
	if len(doomed) > 0 {
		r.log.Info("garbage collected blobs", "domain", domain, "blobs", len(doomed))
	}
	return len(doomed), nil
}
