package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage/postgres"
)

// abortingObjects counts the calls to AbortUploads, how many run at once at
// most, and the last cutoff.
type abortingObjects struct {
	memObjects
	calls, inside, most atomic.Int64
	cutoff              atomic.Int64
	done                chan struct{}
}

func (o *abortingObjects) AbortUploads(ctx context.Context, cutoff time.Time) (int, error) {
	n := o.inside.Add(1)
	defer o.inside.Add(-1)
	for m := o.most.Load(); n > m && !o.most.CompareAndSwap(m, n); m = o.most.Load() {
	}
	o.cutoff.Store(cutoff.UnixNano())
	time.Sleep(30 * time.Millisecond) // long enough for the other replica's turn to come
	if o.calls.Add(1) == 6 {
		close(o.done)
	}
	return 0, nil
}

// TestAbandonedUploadsJob: two replicas with a short AbandonedUploadAge
// both run the job, never at the same time, and ask to abort uploads
// started before now minus the age.
func TestAbandonedUploadsJob(t *testing.T) {
	dsn := engines.Postgres(t).NewDatabase(t)
	objects := &abortingObjects{memObjects: memObjects{m: map[string][]byte{}}, done: make(chan struct{})}
	const age = 20 * time.Millisecond
	for range 2 {
		s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, Objects: objects, CacheDir: t.TempDir(), CacheSize: 1 << 20, AbandonedUploadAge: age}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
	}
	select {
	case <-objects.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the job ran %d times in 30 s", objects.calls.Load())
	}
	if m := objects.most.Load(); m != 1 {
		t.Errorf("%d replicas aborted uploads at once", m)
	}
	if d := time.Since(time.Unix(0, objects.cutoff.Load())); d < age || d > 10*time.Second {
		t.Errorf("the cutoff was %v ago, want about %v", d, age)
	}
}
