package badgerstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
	"github.com/stockpile-proxy/stockpile/storage/storagetest"
)

func open(t *testing.T, opts badgerstore.Options) *badgerstore.Store {
	t.Helper()
	s, err := badgerstore.Open(opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open(%+v): %v", opts, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	tests := []struct {
		name string
		opts func(t *testing.T) badgerstore.Options
	}{
		{"memory", func(t *testing.T) badgerstore.Options {
			return badgerstore.Options{InMemory: true}
		}},
		{"disk", func(t *testing.T) badgerstore.Options {
			return badgerstore.Options{Dir: t.TempDir()}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store { return open(t, tt.opts(t)) })
		})
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	opts := badgerstore.Options{Dir: dir}
	blob := bytes.Repeat([]byte("stockpile "), 10_000)
	key := storage.Key("d", "npmjs")

	s := open(t, opts)
	if err := s.Put(ctx, key, []byte(`{"name":"npmjs"}`), 0); err != nil {
		t.Fatalf("Put: %v", err)
	}
	sums, err := s.WriteBlob(ctx, "npm", bytes.NewReader(blob), nil)
	if err != nil {
		t.Fatalf("WriteBlob: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, opts)
	v, err := s.Get(ctx, key)
	if err != nil || string(v) != `{"name":"npmjs"}` {
		t.Fatalf("Get after reopen = %q, %v", v, err)
	}
	r, err := s.OpenBlob(ctx, "npm", sums.SHA256)
	if err != nil {
		t.Fatalf("OpenBlob after reopen: %v", err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("blob after reopen: %d bytes, equal %t, err %v", len(got), bytes.Equal(got, blob), err)
	}
}

func TestOpenOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    badgerstore.Options
		wantErr bool
	}{
		{"memory", badgerstore.Options{InMemory: true}, false},
		{"no-dir", badgerstore.Options{}, true},
		{"dir-and-memory", badgerstore.Options{Dir: "x", InMemory: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := badgerstore.Open(tt.opts, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Open(%+v) error = %v, want error %t", tt.opts, err, tt.wantErr)
			}
			if err == nil {
				if err := s.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
			}
		})
	}
}

func TestOpenLockedDir(t *testing.T) {
	dir := t.TempDir()
	open(t, badgerstore.Options{Dir: dir})
	if s, err := badgerstore.Open(badgerstore.Options{Dir: dir}, nil); err == nil {
		s.Close()
		t.Fatal("second Open of the same directory succeeded")
	}
}

func TestCloseIdempotent(t *testing.T) {
	s := open(t, badgerstore.Options{Dir: t.TempDir(), GCInterval: 5 * time.Millisecond})
	ctx := context.Background()
	// Give the garbage collector something to look at, and let it run.
	for i := range 20 {
		sums, err := s.WriteBlob(ctx, "npm", bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 300<<10)), nil)
		if err != nil {
			t.Fatalf("WriteBlob: %v", err)
		}
		if err := s.DeleteBlob(ctx, "npm", sums.SHA256); err != nil {
			t.Fatalf("DeleteBlob: %v", err)
		}
	}
	for range 3 {
		select {
		case <-badgerstore.GCPassed(s):
		case <-time.After(10 * time.Second):
			t.Fatal("no value-log gc pass within 10s")
		}
	}
	for i := range 3 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if _, err := s.Get(ctx, storage.Key("d", "x")); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
}

func TestReservedKeys(t *testing.T) {
	s := open(t, badgerstore.Options{InMemory: true})
	ctx := context.Background()
	if _, err := s.WriteBlob(ctx, "npm", bytes.NewReader([]byte("blob bytes")), nil); err != nil {
		t.Fatalf("WriteBlob: %v", err)
	}
	reserved := []byte("\xffb\x00npm")
	tests := []struct {
		name string
		op   func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, reserved); return err }},
		{"Put", func() error { return s.Put(ctx, reserved, []byte("x"), 0) }},
		{"Delete", func() error { return s.Delete(ctx, reserved) }},
		{"Scan", func() error { return s.Scan(ctx, reserved, func(k, v []byte) error { return nil }) }},
		{"Apply", func() error {
			return s.Apply(ctx, []storage.Mutation{{Key: storage.Key("d", "ok"), Value: []byte("x")}, {Key: reserved}})
		}},
		{"empty-key", func() error { return s.Put(ctx, nil, []byte("x"), 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			if err == nil || errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("%s on a reserved key = %v, want a refusal", tt.name, err)
			}
		})
	}
	t.Run("scan-all-skips-blobs", func(t *testing.T) {
		n := 0
		if err := s.Scan(ctx, nil, func(k, v []byte) error { n++; return nil }); err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if n != 0 {
			t.Fatalf("Scan(nil) on a store with only a blob visited %d records", n)
		}
		if _, err := s.Get(ctx, storage.Key("d", "ok")); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("refused Apply wrote a mutation: Get = %v", err)
		}
	})
}

func TestApplyTooBig(t *testing.T) {
	s := open(t, badgerstore.Options{InMemory: true})
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), 16<<10)
	var muts []storage.Mutation
	for i := range 1000 { // 16 MiB, well over a transaction's limit
		muts = append(muts, storage.Mutation{Key: storage.Key("u", "doc", string(rune('a'+i%26)), string(rune(i))), Value: value})
	}
	err := s.Apply(ctx, muts)
	if !errors.Is(err, badgerstore.ErrTooBig) {
		t.Fatalf("Apply of %d large mutations = %v, want ErrTooBig", len(muts), err)
	}
	n := 0
	if err := s.Scan(ctx, nil, func(k, v []byte) error { n++; return nil }); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if n != 0 {
		t.Fatalf("a refused Apply left %d records", n)
	}
}

func TestMalformedBlobNames(t *testing.T) {
	s := open(t, badgerstore.Options{InMemory: true})
	ctx := context.Background()
	tests := []struct {
		name, domain, sha string
		wantNotFound      bool
	}{
		{"short-sha", "npm", "abc", true},
		{"non-hex-sha", "npm", string(bytes.Repeat([]byte("z"), 64)), true},
		{"empty-domain", "", string(bytes.Repeat([]byte("a"), 64)), false},
		{"zero-in-domain", "n\x00pm", string(bytes.Repeat([]byte("a"), 64)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.StatBlob(ctx, tt.domain, tt.sha)
			if err == nil || errors.Is(err, storage.ErrNotFound) != tt.wantNotFound {
				t.Fatalf("StatBlob(%q, %q) = %v, want not-found %t", tt.domain, tt.sha, err, tt.wantNotFound)
			}
		})
	}
	if _, err := s.WriteBlob(ctx, "", bytes.NewReader(nil), nil); err == nil {
		t.Fatal("WriteBlob to an empty domain succeeded")
	}
}

func TestUpperCaseSHA256(t *testing.T) {
	s := open(t, badgerstore.Options{InMemory: true})
	ctx := context.Background()
	sums, err := s.WriteBlob(ctx, "npm", bytes.NewReader([]byte("x")), nil)
	if err != nil {
		t.Fatalf("WriteBlob: %v", err)
	}
	upper := string(bytes.ToUpper([]byte(sums.SHA256)))
	if _, err := s.StatBlob(ctx, "npm", upper); err != nil {
		t.Fatalf("StatBlob with an upper-case sha256: %v", err)
	}
}
