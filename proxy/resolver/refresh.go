package resolver

import (
	"context"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Refreshed is what a refresh of a package's upstream metadata found.
type Refreshed struct {
	// Versions is how many versions the repository now offers clients.
	Versions int
	// Stale is true when an external connection could not be reached: what
	// it said before is still served.
	Stale bool
}

// Refresh revalidates now every upstream document behind p as ref's walk
// reaches it (a forced revalidation, formats.Fresh, honoured at most once
// per FreshWithin per document like a client's), and drops every rendered
// document of p, so the next client request is built from what the
// upstreams say now rather than when their TTL ends.
func (r *Resolver) Refresh(ctx context.Context, ref formats.RepoRef, p formats.Package) (Refreshed, error) {
	res, err := r.view(formats.Fresh(ctx), ref, p, false)
	// Dropped whatever the outcome: an explicit refresh asks for it, and a
	// failed one leaves nothing kept that the next request would not check.
	r.touchEverywhere(p)
	if err != nil {
		return Refreshed{}, err
	}
	return Refreshed{Versions: len(res.view.Versions), Stale: res.stale}, nil
}
