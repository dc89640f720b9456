package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/storage"
)

func TestSweepUploads(t *testing.T) {
	ctx := context.Background()
	const cs = writeBufSize
	blob := bytes.Repeat([]byte("0123456789abcdef"), 5*cs/16+3)

	t.Run("interrupted-delete", func(t *testing.T) {
		dir := t.TempDir()
		s := openInternal(t, Options{Dir: dir})
		sums, err := s.WriteBlob(ctx, "npm", bytes.NewReader(blob), nil)
		if err != nil {
			t.Fatalf("WriteBlob: %v", err)
		}
		// Do what DeleteBlob does before it removes the file, then stop.
		_, id, err := s.readMeta(ctx, "npm", sums.SHA256)
		if err != nil {
			t.Fatalf("readMeta: %v", err)
		}
		err = s.use(func(db *badger.DB) error {
			return db.Update(func(txn *badger.Txn) error {
				if err := txn.Delete(metaKey("npm", sums.SHA256)); err != nil {
					return err
				}
				return txn.Set(uploadKey(id), []byte("{}"))
			})
		})
		if err != nil {
			t.Fatalf("half a delete: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if got := rawKeys(t, dir); got != (keyCounts{Uploads: 1, Files: 1}) {
			t.Fatalf("keys after half a delete = %+v", got)
		}
		s = openInternal(t, Options{Dir: dir})
		if diff := cmp.Diff(keyCounts{}, storeKeys(t, s)); diff != "" {
			t.Fatalf("keys after Open's sweep (-want +got):\n%s", diff)
		}
	})

	t.Run("orphan-upload", func(t *testing.T) {
		s := openInternal(t, Options{InMemory: true})
		id, err := newUploadID()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.putMarker(id, "npm", "write"); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(s.filePath(id), []byte("part of a blob"), 0o640); err != nil {
			t.Fatal(err)
		}
		n, err := s.SweepUploads(ctx)
		if err != nil || n != 1 {
			t.Fatalf("SweepUploads = %d, %v; want 1, nil", n, err)
		}
		if diff := cmp.Diff(keyCounts{}, storeKeys(t, s)); diff != "" {
			t.Fatalf("keys after the sweep (-want +got):\n%s", diff)
		}
	})

	t.Run("running-upload-kept", func(t *testing.T) {
		s := openInternal(t, Options{InMemory: true})
		pr, pw := io.Pipe()
		type result struct {
			sums storage.Sums
			err  error
		}
		done := make(chan result, 1)
		go func() {
			sums, err := s.WriteBlob(ctx, "npm", pr, nil)
			done <- result{sums, err}
		}()
		// The pipe hands over the third buffer only once the writer has
		// written the first two and asked for more.
		if _, err := pw.Write(blob[:3*cs]); err != nil {
			t.Fatal(err)
		}
		n, err := s.SweepUploads(ctx)
		if err != nil || n != 0 {
			t.Fatalf("SweepUploads during an upload = %d, %v; want 0, nil", n, err)
		}
		if _, err := pw.Write(blob[3*cs:]); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		res := <-done
		if res.err != nil {
			t.Fatalf("WriteBlob: %v", res.err)
		}
		r, err := s.OpenBlob(ctx, "npm", res.sums.SHA256)
		if err != nil {
			t.Fatalf("OpenBlob: %v", err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, blob) {
			t.Fatalf("blob written during a sweep reads %d bytes, err %v", len(got), err)
		}
	})

	t.Run("closed", func(t *testing.T) {
		s := openInternal(t, Options{InMemory: true})
		s.Close()
		if _, err := s.SweepUploads(ctx); !errors.Is(err, storage.ErrClosed) {
			t.Fatalf("SweepUploads after Close = %v, want ErrClosed", err)
		}
	})
}
