package postgres_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/postgres"
)

// twoReplicas opens two stores on one database and one bucket prefix, as
// two replicas would.
func twoReplicas(t *testing.T) (a, b *postgres.Store) {
	t.Helper()
	dsn := engines.Postgres(t).NewDatabase(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, Objects: &memObjects{m: map[string][]byte{}}, CacheDir: t.TempDir(), CacheSize: 1 << 20}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b = open(), open()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestLockAcrossReplicas(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	unlock, err := a.Lock(ctx, "fetch/npm/left-pad")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("held-elsewhere", func(t *testing.T) {
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if _, err := b.Lock(wctx, "fetch/npm/left-pad"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock of a lock another replica holds = %v, want a deadline error", err)
		}
		if _, ok, err := b.TryLock(ctx, "fetch/npm/left-pad"); ok || err != nil {
			t.Fatalf("TryLock of a held lock = %v, %v", ok, err)
		}
	})
	t.Run("other-names-free", func(t *testing.T) {
		u, ok, err := b.TryLock(ctx, "fetch/npm/right-pad")
		if !ok || err != nil {
			t.Fatalf("TryLock of a free lock = %v, %v", ok, err)
		}
		u()
	})
	t.Run("waiter-gets-it-on-unlock", func(t *testing.T) {
		got := make(chan error, 1)
		go func() {
			u, err := b.Lock(ctx, "fetch/npm/left-pad")
			if err == nil {
				u()
			}
			got <- err
		}()
		time.Sleep(100 * time.Millisecond)
		unlock()
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the waiting replica did not get the lock after it was released")
		}
	})
}

// TestLockReleasedWhenHolderCloses checks that a replica that closes its
// store while holding a lock frees it (a killed process frees its locks the
// same way: its connections close).
func TestLockReleasedWhenHolderCloses(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	if _, err := a.Lock(ctx, "job/gc"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.TryLock(ctx, "job/gc"); ok {
		t.Fatal("b got a held lock")
	}
	a.Close()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		u, ok, err := b.TryLock(wctx, "job/gc")
		if ok {
			u()
			break
		}
		if err != nil {
			t.Fatalf("the lock of a closed replica was not released: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWatchSeesOtherReplicasWrites(t *testing.T) {
	a, b := twoReplicas(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var changes atomic.Int64
	done := make(chan struct{})
	go func() { b.Watch(ctx, time.Hour, func() { changes.Add(1) }); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(300 * time.Millisecond) // listening
	tests := []struct {
		name  string
		write func() error
	}{
		{"put", func() error { return a.Put(ctx, storage.Key("x", "1"), []byte("v"), 0) }},
		{"apply", func() error {
			return a.Apply(ctx, []storage.Mutation{{Key: storage.Key("x", "2"), Value: []byte("v")}, {Key: storage.Key("x", "1")}})
		}},
		{"delete", func() error { return a.Delete(ctx, storage.Key("x", "2")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := changes.Load()
			if err := tt.write(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for changes.Load() == before {
				if time.Now().After(deadline) {
					t.Fatal("the other replica was not told within 5s (the poll is an hour: the notification must do it)")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestWatchPollBound checks the bound for a lost notification: a write
// that notifies no one (the counter moves, as after a notification missed
// while reconnecting) is still seen within the poll interval.
func TestWatchPollBound(t *testing.T) {
	a, b := twoReplicas(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var changes atomic.Int64
	done := make(chan struct{})
	go func() { b.Watch(ctx, 200*time.Millisecond, func() { changes.Add(1) }); close(done) }()
	defer func() { cancel(); <-done }()
	// The watcher connects in its own time: count changes until it sees
	// one. Nothing notifies, so only its poll of the counter can.
	before := changes.Load()
	deadline := time.Now().Add(10 * time.Second)
	for changes.Load() == before {
		if _, err := a.Pool().Exec(ctx, `SELECT nextval('changes')`); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("changes counted without a notification were not seen within 10s with a 200ms poll")
		}
		time.Sleep(400 * time.Millisecond)
	}
}
