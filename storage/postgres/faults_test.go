package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/enginetest"
	"github.com/stockpile-proxy/stockpile/storage/postgres"
	"github.com/stockpile-proxy/stockpile/storage/s3"
)

// TestServersDown stops PostgreSQL, then the object store, under an open
// store: every call that needs the stopped server fails with an error that
// wraps storage.ErrUnavailable and not storage.ErrNotFound, a blob in the
// local cache still opens while only the object store is down, and the
// same store works again once the servers are back.
func TestServersDown(t *testing.T) {
	pg := enginetest.OwnPostgres(t)
	w := enginetest.OwnWeed(t)
	objects, err := s3.New(w.NewBucket(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	s, err := postgres.Open(ctx, postgres.Options{DSN: pg.NewDatabase(t), Objects: objects, CacheDir: t.TempDir(), CacheSize: 1 << 20, Now: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := bytes.Repeat([]byte("warm "), 1000)
	sums, err := s.WriteBlob(ctx, "d", bytes.NewReader(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, []byte("k"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	unavailable := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s: %v, want an error wrapping storage.ErrUnavailable", what, err)
		}
	}

	pg.Stop()
	_, err = s.Get(ctx, []byte("k"))
	unavailable("Get", err)
	unavailable("Put", s.Put(ctx, []byte("k2"), []byte("v"), 0))
	unavailable("Apply", s.Apply(ctx, []storage.Mutation{{Key: []byte("k3"), Value: []byte("v")}}))
	unavailable("Scan", s.Scan(ctx, nil, func(k, v []byte) error { return nil }))
	_, err = s.StatBlob(ctx, "d", sums.SHA256)
	unavailable("StatBlob", err)
	_, err = s.OpenBlob(ctx, "d", sums.SHA256)
	unavailable("OpenBlob", err)
	skew.Add(int64(time.Minute)) // past the store's last check of its servers
	_, err = s.WriteBlob(ctx, "d", bytes.NewReader([]byte("cold")), nil)
	unavailable("WriteBlob", err)
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("Get after PostgreSQL restarted: %q, %v", v, err)
	}

	w.Stop()
	b, err := s.OpenBlob(ctx, "d", sums.SHA256)
	if err != nil {
		t.Fatalf("a cached blob with the object store down: %v", err)
	}
	got, _ := io.ReadAll(b)
	b.Close()
	if !bytes.Equal(got, body) {
		t.Error("the cached blob reads wrong")
	}
	skew.Add(int64(time.Minute))
	_, err = s.WriteBlob(ctx, "d", bytes.NewReader([]byte("cold")), nil)
	unavailable("WriteBlob with the object store down", err)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteBlob(ctx, "d", bytes.NewReader([]byte("cold")), nil); err != nil {
		t.Fatalf("WriteBlob after the object store came back: %v", err)
	}
}
