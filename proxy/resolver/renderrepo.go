package resolver

import (
	"context"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
)

// repoRenderTimeout bounds the building of one repository-wide document,
// detached from the clients that wait for it.
const repoRenderTimeout = 5 * time.Minute

// maxRepoDocs bounds the repository-wide documents kept, whatever their size.
const maxRepoDocs = 1000

// repoDoc is a kept repository-wide document with the fingerprint of the
// inputs it was built from.
type repoDoc struct {
	fingerprint string
	doc         *formats.Rendered
}

func (d *repoDoc) size() int64 { return int64(len(d.doc.Body) + len(d.fingerprint) + 256) }

// RenderRepository implements formats.Resolver. Concurrent callers asking
// for the same document share one flight, run under a context of its own
// (neither a client's cancellation nor its trace reach it, and no caller:
// the repository middleware authorised each waiting request). In it inputs
// reads what the document is made of; the kept document is returned while
// its fingerprint is unchanged, and rebuilt otherwise.
func (r *Resolver) RenderRepository(ctx context.Context, ref formats.RepoRef, variant string, inputs formats.RepositoryInputs) (*formats.Rendered, error) {
	key := ref.Domain + "\x00" + ref.Repository + "\x00" + variant
	ch := r.repoFlights.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.Background(), repoRenderTimeout)
		defer cancel()
		fingerprint, build, err := inputs(fctx)
		if err != nil {
			return nil, err
		}
		if d, ok := r.repoDocs.get(key); ok && d.fingerprint == fingerprint {
			return d.doc, nil
		}
		doc, err := build()
		if err != nil {
			return nil, err
		}
		// Not compressed: such documents are large, rebuilt whenever an
		// input changes, and fetched in ranges (RubyGems' /versions grows
		// by appends).
		setETag(doc)
		r.repoDocs.put(key, &repoDoc{fingerprint: fingerprint, doc: doc})
		return doc, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*formats.Rendered), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
