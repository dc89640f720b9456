package s3_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/enginetest"
	"github.com/stockpile-proxy/stockpile/storage/s3"
)

var engines *enginetest.Engines

func TestMain(m *testing.M) { os.Exit(enginetest.Main(m, &engines)) }

func client(t *testing.T, o s3.Options, prefix string) *s3.Client {
	t.Helper()
	o.Prefix = prefix
	c, err := s3.New(o, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAbortUploads leaves multipart uploads behind on SeaweedFS, as killed
// processes do, under two prefixes of one bucket: AbortUploads aborts
// those of its own prefix started before the cutoff, and only those.
func TestAbortUploads(t *testing.T) {
	b := engines.S3(t).NewBucket(t)
	ctx := context.Background()
	mine, other := client(t, b, "mine/"), client(t, b, "other/")
	for _, k := range []string{"blobs/d/1", "blobs/d/2"} {
		if err := mine.StartUpload(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.StartUpload(ctx, "blobs/d/3"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		c      *s3.Client
		cutoff time.Time
		want   int
	}{
		{"uploads started after the cutoff stay", mine, time.Now().Add(-time.Hour), 0},
		{"older uploads of the prefix are aborted", mine, time.Now().Add(time.Minute), 2},
		{"aborted uploads are gone", mine, time.Now().Add(time.Minute), 0},
		{"another prefix's upload was left alone", other, time.Now().Add(time.Minute), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.c.AbortUploads(ctx, tt.cutoff)
			if err != nil || n != tt.want {
				t.Fatalf("AbortUploads = %d, %v; want %d", n, err, tt.want)
			}
		})
	}
}

// TestUnreachable: a client of a server that does not answer fails with
// errors wrapping storage.ErrUnavailable; a missing key is not that.
func TestUnreachable(t *testing.T) {
	b := engines.S3(t).NewBucket(t)
	ctx := context.Background()
	if _, _, err := client(t, b, "").Get(ctx, "absent"); !errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	b.Endpoint = "http://127.0.0.1:1"
	dead := client(t, b, "")
	if err := dead.Check(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Check: %v", err)
	}
	if _, _, err := dead.Get(ctx, "k"); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Get: %v", err)
	}
	if _, err := dead.AbortUploads(ctx, time.Now()); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("AbortUploads: %v", err)
	}
}

// TestDiscard: Discard of a key aborts its uploads in progress and deletes
// its object, and leaves other keys (one whose name it prefixes included)
// alone; a key with nothing is not an error.
func TestDiscard(t *testing.T) {
	b := engines.S3(t).NewBucket(t)
	ctx := context.Background()
	c := client(t, b, "d/")
	for _, k := range []string{"blobs/x/upload-1", "blobs/x/upload-10"} {
		if err := c.StartUpload(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := c.Put(ctx, k, strings.NewReader(k), int64(len(k))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Discard(ctx, "blobs/x/upload-1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Discard(ctx, "blobs/x/absent"); err != nil {
		t.Fatalf("Discard of a key with nothing: %v", err)
	}
	var uploads, objects []string
	if err := c.ListUploads(ctx, "", func(u s3.Upload) error { uploads = append(uploads, u.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.List(ctx, "", func(o s3.Object) error { objects = append(objects, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"blobs/x/upload-10"}
	if !slices.Equal(uploads, want) || !slices.Equal(objects, want) {
		t.Errorf("left: uploads %q, objects %q; want %q for both", uploads, objects, want)
	}
}
