package badgerstore

import (
	"context"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// gcLoop runs value-log garbage collection every interval until ctx is
// cancelled, then closes s.gcDone.
func (s *Store) gcLoop(ctx context.Context, interval time.Duration) {
	defer close(s.gcDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.collectGarbage(ctx)
			select {
			case s.gcPassed <- struct{}{}:
			default:
			}
		}
	}
}

// collectGarbage rewrites value-log files while Badger finds one worth it.
func (s *Store) collectGarbage(ctx context.Context) {
	for ctx.Err() == nil {
		// Rewriting a value-log file writes first and frees after.
		if err := s.checkSpace(); err != nil {
			s.log.Warn("badgerstore: value log gc skipped", "err", err)
			return
		}
		err := s.db.RunValueLogGC(gcDiscardRatio)
		switch {
		case err == nil:
			continue
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			return
		default:
			s.log.Warn("badgerstore: value log gc", "err", err)
			return
		}
	}
}
