package postgres_test

import (
	"context"
	"errors"
	"fmt"
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
		// The lock is released only once the server shows the waiter queued
		// on it, so that it is the release that lets the waiter in.
		eventually(t, "the other replica waits for the lock", func() bool {
			var waiting int
			err := a.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting)
			if err != nil {
				t.Fatal(err)
			}
			return waiting > 0
		})
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
	// b waits on the server, which grants the lock when a's session ends.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u, err := b.Lock(wctx, "job/gc")
	if err != nil {
		t.Fatalf("the lock of a closed replica was not released: %v", err)
	}
	u()
}

// eventually polls cond until it holds, failing the test after 10s. For
// state the server announces no event for (who waits on a lock).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(10 * time.Millisecond) // the poll's pace, not a wait for something to happen
	}
}

// watchChanges runs b.Watch with poll until the test ends; each change it
// reports is sent on the channel returned (not blocking: reports while no
// one reads coalesce).
func watchChanges(t *testing.T, b *postgres.Store, poll time.Duration) <-chan struct{} {
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		b.Watch(ctx, poll, func() {
			select {
			case changes <- struct{}{}:
			default:
			}
		})
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return changes
}

// changed reports whether the watcher reports a change within d.
func changed(changes <-chan struct{}, d time.Duration) bool {
	select {
	case <-changes:
		return true
	case <-time.After(d):
		return false
	}
}

func TestWatchSeesOtherReplicasWrites(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	changes := watchChanges(t, b, time.Hour)
	// The watcher connects in its own time and reports changes only once
	// it listens: write until it reports one. The poll is an hour, so only
	// a notification can.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		if err := a.Put(ctx, storage.Key("warm", fmt.Sprint(i)), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if changed(changes, 100*time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher reported no change within 10s of writes")
		}
	}
	for changed(changes, 100*time.Millisecond) { // the warm-up's late notifications
	}
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
			if err := tt.write(); err != nil {
				t.Fatal(err)
			}
			if !changed(changes, 5*time.Second) {
				t.Fatal("the other replica was not told within 5s (the poll is an hour: the notification must do it)")
			}
		})
	}
}

// TestWatchPollBound checks the bound for a lost notification: a write
// that notifies no one (the counter moves, as after a notification missed
// while reconnecting) is still seen within the poll interval.
func TestWatchPollBound(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	changes := watchChanges(t, b, 200*time.Millisecond)
	// The watcher connects in its own time: count changes until it sees
	// one. Nothing notifies, so only its poll of the counter can.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := a.Pool().Exec(ctx, `SELECT nextval('changes')`); err != nil {
			t.Fatal(err)
		}
		if changed(changes, 400*time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("changes counted without a notification were not seen within 10s with a 200ms poll")
		}
	}
}
