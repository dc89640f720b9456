package proxy

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/resolver"
)

// sharedStore is what a store that several replicas share offers
// (storage/postgres): a feed of other replicas' changes and cluster-wide
// locks.
type sharedStore interface {
	Watch(ctx context.Context, poll time.Duration, changed func())
	Lock(ctx context.Context, name string) (unlock func(), err error)
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

// changePoll bounds how long a replica that missed a change notification
// can keep serving what it derived from the records before the change.
const changePoll = time.Second

// watchChanges keeps this replica's model, its scoped tokens and the views
// derived from them current while other replicas write: on every change it
// reloads the registry, which moves its generation on, and with it the
// engine's rendered documents and hot assets, and the scoped tokens.
// Bursts of changes are coalesced into one reload. It returns when ctx
// ends.
func (s *Server) watchChanges(ctx context.Context, ss sharedStore) {
	kick := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		ss.Watch(ctx, changePoll, func() {
			select {
			case kick <- struct{}{}:
			default:
			}
		})
	})
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		if err := s.registry.Reload(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reloading the model after another replica's change", "error", err.Error())
		}
		if err := s.scoped.Reload(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reloading scoped tokens after another replica's change", "error", err.Error())
		}
		if s.hooks.Reloaded != nil {
			s.hooks.Reloaded()
		}
	}
}

// asLeader runs job unless another replica sharing the store is running
// the job of that name; on a store of one process it always runs it.
func (s *Server) asLeader(ctx context.Context, name string, job func()) {
	ss, ok := s.store.(sharedStore)
	if !ok {
		job()
		return
	}
	unlock, ok, err := ss.TryLock(ctx, "job/"+name)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("taking the lock of a background job", "job", name, "error", err.Error())
		}
		return
	}
	if !ok {
		return
	}
	defer unlock()
	job()
}

// startLock serialises the start of replicas sharing a store (the token
// key's creation, the reconciliation of the configured domains): it returns
// a no-op for a store of one process.
func startLock(ctx context.Context, store any) (unlock func(), err error) {
	ss, ok := store.(sharedStore)
	if !ok {
		return func() {}, nil
	}
	lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return ss.Lock(lctx, "start")
}

// clusterLocker is the package Locker of replicas sharing a store: the
// in-process lock first, so that one process holds at most one database
// connection per package, then the package's advisory lock across the
// replicas. A replica that cannot take the shared lock within lockWait (the
// database is unreachable, or another replica holds it that long) goes on
// with the in-process lock alone and says so: its write then meets the
// database's own failure or races only that replica.
type clusterLocker struct {
	local resolver.Locker
	ss    sharedStore
	log   *slog.Logger
}

// lockWait bounds the wait for a package's shared lock.
const lockWait = time.Minute

func (l *clusterLocker) Lock(key string) (unlock func()) {
	unlockLocal := l.local.Lock(key)
	ctx, cancel := context.WithTimeout(context.Background(), lockWait)
	defer cancel()
	// Keys separate their parts with NUL, which PostgreSQL's text refuses.
	unlockShared, err := l.ss.Lock(ctx, "pkg/"+strings.ReplaceAll(key, "\x00", "/"))
	if err != nil {
		l.log.Warn("no shared package lock: writing under this replica's lock only", "error", err.Error())
		return unlockLocal
	}
	return func() { unlockShared(); unlockLocal() }
}

// fetchLockSlots bounds the cluster-wide fetch locks one replica holds at
// once to half of the connections storage/postgres keeps for locks (its
// LockConns, 32 by default). A fetch holds its lock while it takes its
// package's lock to record what it fetched, each on a connection of its
// own: were the fetch locks to take every connection, the package locks
// would wait for one that only they could free.
const fetchLockSlots = 16

// boundedLock returns lock limited to n locks held at once through it; a
// lock beyond them waits for a slot, within ctx.
func boundedLock(lock func(ctx context.Context, name string) (func(), error), n int) func(ctx context.Context, name string) (func(), error) {
	slots := make(chan struct{}, n)
	return func(ctx context.Context, name string) (func(), error) {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		unlock, err := lock(ctx, name)
		if err != nil {
			<-slots
			return nil, err
		}
		var once sync.Once
		return func() { once.Do(func() { unlock(); <-slots }) }, nil
	}
}
