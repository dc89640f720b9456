package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/postgres"
)

// countingObjects is memObjects counting its Gets; a Get waits for release
// when it is set, so that every reader arrives before the first download
// ends.
type countingObjects struct {
	memObjects
	gets    atomic.Int64
	release chan struct{}
}

func (o *countingObjects) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	o.gets.Add(1)
	if o.release != nil {
		select {
		case <-o.release:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	return o.memObjects.Get(ctx, key)
}

// downloading has a signal sent on it each time a reader of s has started
// or joined a download (the store's download hook).
func downloading(s *postgres.Store) <-chan struct{} {
	c := make(chan struct{}, 16)
	postgres.SetTestHookDownloading(s, func() { c <- struct{}{} })
	return c
}

// waitDownloading waits until n more readers have started or joined a
// download, for at most 30 s.
func waitDownloading(c <-chan struct{}, n int) error {
	deadline := time.After(30 * time.Second)
	for i := range n {
		select {
		case <-c:
		case <-deadline:
			return fmt.Errorf("%d of %d readers started or joined a download in 30 s", i, n)
		}
	}
	return nil
}

// cachedReplicas is a new database and one counting object store that the
// replicas open returns share, each replica with its own local cache of
// cacheSize bytes.
func cachedReplicas(t *testing.T) (*countingObjects, func(cacheSize int64) *postgres.Store) {
	dsn := engines.Postgres(t).NewDatabase(t)
	objects := &countingObjects{memObjects: memObjects{m: map[string][]byte{}}}
	return objects, func(cacheSize int64) *postgres.Store {
		s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn, Objects: objects, CacheDir: t.TempDir(), CacheSize: cacheSize}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// TestConcurrentReadsDownloadOnce opens a blob that another replica wrote,
// from many readers at once on a replica whose cache lacks it: the object
// store is asked once and every reader gets the whole blob. A blob larger
// than the cache is downloaded by each reader, and a reader whose download
// was started by a reader that left gets the blob all the same.
func TestConcurrentReadsDownloadOnce(t *testing.T) {
	objects, open := cachedReplicas(t)
	ctx := context.Background()
	writer := open(1 << 20)
	small := bytes.Repeat([]byte("small blob "), 1000)
	large := bytes.Repeat([]byte("large blob "), 20000) // 220 KB
	put := func(body []byte) string {
		sums, err := writer.WriteBlob(ctx, "d", bytes.NewReader(body), nil)
		if err != nil {
			t.Fatal(err)
		}
		return sums.SHA256
	}
	readAll := func(s *postgres.Store, ctx context.Context, sha string) ([]byte, error) {
		b, err := s.OpenBlob(ctx, "d", sha)
		if err != nil {
			return nil, err
		}
		defer b.Close()
		return io.ReadAll(b)
	}

	for _, tc := range []struct {
		name      string
		body      []byte
		cacheSize int64
		wantGets  int64
	}{
		{"fits the cache: one download", small, 1 << 20, 1},
		{"larger than the cache: a download each", large, 100 << 10, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sha := put(tc.body)
			reader := open(tc.cacheSize)
			arrived := downloading(reader)
			objects.gets.Store(0)
			objects.release = make(chan struct{})
			defer func() { objects.release = nil }()
			const readers = 8
			var wg sync.WaitGroup
			errs := make(chan error, readers)
			for range readers {
				wg.Go(func() {
					got, err := readAll(reader, ctx, sha)
					if err == nil && !bytes.Equal(got, tc.body) {
						err = errors.New("wrong bytes")
					}
					errs <- err
				})
			}
			// The downloads are held until every reader has started or
			// joined one, so none can come after the shared one is over.
			if err := waitDownloading(arrived, readers); err != nil {
				t.Error(err)
			}
			close(objects.release)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if n := objects.gets.Load(); n != tc.wantGets {
				t.Errorf("%d downloads, want %d", n, tc.wantGets)
			}
		})
	}

	t.Run("the reader that started the download leaves", func(t *testing.T) {
		sha := put(bytes.Repeat([]byte("left "), 3000))
		reader := open(1 << 20)
		arrived := downloading(reader)
		objects.gets.Store(0)
		objects.release = make(chan struct{})
		defer func() { objects.release = nil }()
		first, leave := context.WithCancel(ctx)
		firstErr := make(chan error, 1)
		go func() {
			_, err := readAll(reader, first, sha)
			firstErr <- err
		}()
		if err := waitDownloading(arrived, 1); err != nil {
			t.Error(err)
		}
		second := make(chan error, 1)
		go func() {
			got, err := readAll(reader, ctx, sha)
			if err == nil && len(got) != 15000 {
				err = errors.New("wrong bytes")
			}
			second <- err
		}()
		// The second reader joins the first one's download before it leaves.
		if err := waitDownloading(arrived, 1); err != nil {
			t.Error(err)
		}
		leave()
		if err := <-firstErr; !errors.Is(err, context.Canceled) {
			t.Errorf("the reader that left: %v, want context.Canceled", err)
		}
		close(objects.release)
		if err := <-second; err != nil {
			t.Errorf("the reader that stayed: %v", err)
		}
	})

	// A blob the object store lacks is storage.ErrNotFound for every reader.
	t.Run("missing object", func(t *testing.T) {
		sha := put([]byte("gone"))
		objects.Delete(ctx, "blobs/d/"+sha)
		if _, err := readAll(open(1<<20), ctx, sha); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("OpenBlob of a blob whose object is gone: %v, want storage.ErrNotFound", err)
		}
	})
}

// The engine's hot assets keep a blob's path and tell the store of each
// hit served from it: BlobFileUsed.
var _ interface{ BlobFileUsed(path string) } = (*postgres.Store)(nil)

// TestBlobFileUsedKeepsBlobCached fills a replica's cache with two blobs, marks
// the older one used, and reads a third: the blob evicted to make room is
// the one not used since, and the used one is still read without a
// download.
func TestBlobFileUsedKeepsBlobCached(t *testing.T) {
	objects, open := cachedReplicas(t)
	ctx := context.Background()
	writer := open(1 << 20)
	var shas []string
	for _, c := range []string{"a", "b", "c"} {
		sums, err := writer.WriteBlob(ctx, "d", bytes.NewReader(bytes.Repeat([]byte(c), 10<<10)), nil)
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, sums.SHA256)
	}
	reader := open(25 << 10) // room for two
	read := func(sha string) string {
		t.Helper()
		b, err := reader.OpenBlob(ctx, "d", sha)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		return b.(interface{ File() *os.File }).File().Name()
	}
	path := read(shas[0])
	read(shas[1])
	reader.BlobFileUsed(path)
	read(shas[2]) // evicts one
	before := objects.gets.Load()
	read(shas[0])
	if n := objects.gets.Load() - before; n != 0 {
		t.Errorf("the blob marked used was evicted: %d downloads to read it again", n)
	}
	read(shas[1])
	if n := objects.gets.Load() - before; n != 1 {
		t.Errorf("the blob not used since was still cached: %d downloads to read it again, want 1", n)
	}
}
