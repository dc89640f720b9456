package badgerstore

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// TestRemoveOrphans leaves a committed blob and a marked upload alone and
// removes a file nothing owns, as a power loss can leave one; Open does the
// same in the background.
func TestRemoveOrphans(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openInternal(t, Options{Dir: dir})
	// Open's own scan runs in the background: let it finish, or it may
	// take the orphan below before the call this test makes.
	s.background.Wait()
	sums, err := s.WriteBlob(ctx, "npm", strings.NewReader("committed bytes"), nil)
	if err != nil {
		t.Fatal(err)
	}
	orphan := func() string {
		t.Helper()
		id, err := newUploadID()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(s.filePath(id), []byte("nobody's"), 0o640); err != nil {
			t.Fatal(err)
		}
		return s.filePath(id)
	}
	lost := orphan()
	marked, err := newUploadID()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.putMarker(marked, "npm", "write"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.filePath(marked), []byte("an upload's"), 0o640); err != nil {
		t.Fatal(err)
	}

	n, err := s.RemoveOrphans(ctx)
	if err != nil || n != 1 {
		t.Fatalf("RemoveOrphans = %d, %v; want 1, nil", n, err)
	}
	if _, err := os.Stat(lost); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the orphan is still there: %v", err)
	}
	if _, err := os.Stat(s.filePath(marked)); err != nil {
		t.Fatalf("the marked upload's file was removed: %v", err)
	}
	b, err := s.OpenBlob(ctx, "npm", sums.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	b.Close()
	if err != nil || string(got) != "committed bytes" {
		t.Fatalf("the committed blob reads %q, %v", got, err)
	}

	lost = orphan()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openInternal(t, Options{Dir: dir})
	s.background.Wait() // the orphan scan Open started
	if _, err := os.Stat(lost); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open did not remove the orphan: %v", err)
	}
	if _, err := s.StatBlob(ctx, "npm", sums.SHA256); err != nil {
		t.Fatalf("the committed blob after reopening: %v", err)
	}
}

// TestRemoveOrphansWhileWriting runs the scan over and over while blobs are
// written, rewritten and deleted: it must never take a committed blob's
// file.
func TestRemoveOrphansWhileWriting(t *testing.T) {
	ctx := context.Background()
	s := openInternal(t, Options{Dir: t.TempDir()})
	stop := make(chan struct{})
	scanned := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				scanned <- n
				return
			default:
			}
			if _, err := s.RemoveOrphans(ctx); err != nil {
				t.Errorf("RemoveOrphans: %v", err)
			}
			n++
		}
	}()
	var shas []string
	for i := range 200 {
		body := strings.Repeat(string(rune('a'+i%26)), 1000+i)
		sums, err := s.WriteBlob(ctx, "npm", strings.NewReader(body), nil)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 { // the same bytes again: a second file, discarded
			if _, err := s.WriteBlob(ctx, "npm", strings.NewReader(body), nil); err != nil {
				t.Fatal(err)
			}
		}
		if i%5 == 0 {
			if err := s.DeleteBlob(ctx, "npm", sums.SHA256); err != nil {
				t.Fatal(err)
			}
			continue
		}
		shas = append(shas, sums.SHA256)
	}
	close(stop)
	t.Logf("%d scans during the writes", <-scanned)
	if _, err := s.RemoveOrphans(ctx); err != nil {
		t.Fatal(err)
	}
	for _, sha := range shas {
		b, err := s.OpenBlob(ctx, "npm", sha)
		if err != nil {
			t.Fatalf("blob %s after the scans: %v", sha, err)
		}
		b.Close()
	}
	if n := countFiles(t, s.blobDir); n != len(shas) {
		t.Fatalf("%d files for %d blobs", n, len(shas))
	}
}
