package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/storage"
)

func runRecords(t *testing.T, h *harness) {
	t.Run("not-found", func(t *testing.T) { testNotFound(t, h) })
	t.Run("put-overwrite", func(t *testing.T) { testPutOverwrite(t, h) })
	t.Run("ttl-expiry", func(t *testing.T) { testTTLExpiry(t, h) })
	t.Run("scan-shared-stem", func(t *testing.T) { testScanSharedStem(t, h) })
	t.Run("scan-order", func(t *testing.T) { testScanOrder(t, h) })
	t.Run("scan-stop", func(t *testing.T) { testScanStop(t, h) })
	t.Run("apply", func(t *testing.T) { testApply(t, h) })
	t.Run("apply-atomic", func(t *testing.T) { testApplyAtomic(t, h) })
}

// scanAll returns the keys and values under prefix as strings, in order.
func scanAll(t *testing.T, s storage.Store, prefix []byte) [][2]string {
	t.Helper()
	var got [][2]string
	err := s.Scan(context.Background(), prefix, func(k, v []byte) error {
		got = append(got, [2]string{string(k), string(v)})
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%q): %v", prefix, err)
	}
	return got
}

func mustPut(t *testing.T, s storage.Store, key []byte, value string, ttl time.Duration) {
	t.Helper()
	if err := s.Put(context.Background(), key, []byte(value), ttl); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func testNotFound(t *testing.T, h *harness) {
	s := h.store(t)
	ctx := context.Background()
	key := storage.Key("d", "absent")
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete of an absent key: %v", err)
	}
	mustPut(t, s, storage.Key("d", "present"), "x", 0)
	if err := s.Delete(ctx, storage.Key("d", "present")); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	tests := []struct {
		name string
		key  []byte
	}{
		{"never-written", key},
		{"deleted", storage.Key("d", "present")},
		{"longer-sibling", storage.Key("d", "presen")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := s.Get(ctx, tt.key)
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", tt.key, v, err)
			}
		})
	}
}

func testPutOverwrite(t *testing.T, h *harness) {
	s := h.store(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		values []string
	}{
		{"once", []string{"one"}},
		{"overwrite", []string{"one", "two"}},
		{"shorter", []string{"a long first value", "b"}},
		{"empty", []string{"something", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := storage.Key("s", tt.name)
			for _, v := range tt.values {
				mustPut(t, s, key, v, 0)
			}
			got, err := s.Get(ctx, key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if want := tt.values[len(tt.values)-1]; string(got) != want {
				t.Fatalf("Get = %q, want %q", got, want)
			}
		})
	}
}

func testTTLExpiry(t *testing.T, h *harness) {
	t.Parallel()
	s := h.store(t)
	ctx := context.Background()
	short, forever, long := storage.Key("u", "short"), storage.Key("u", "forever"), storage.Key("u", "long")
	mustPut(t, s, short, "soon gone", time.Second)
	mustPut(t, s, forever, "stays", 0)
	mustPut(t, s, long, "stays too", time.Hour)
	applied := storage.Key("u", "applied")
	if err := s.Apply(ctx, []storage.Mutation{{Key: applied, Value: []byte("gone too"), TTL: time.Second}}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, k := range [][]byte{short, applied} {
		if _, err := s.Get(ctx, k); err != nil {
			t.Fatalf("Get(%q) right after Put with a 1s TTL: %v", k, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, k := range [][]byte{short, applied} {
		for {
			_, err := s.Get(ctx, k)
			if errors.Is(err, storage.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatalf("Get(%q): %v", k, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("Get(%q) still finds a record put with a 1s TTL after 5s", k)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	want := [][2]string{{string(forever), "stays"}, {string(long), "stays too"}}
	if diff := cmp.Diff(want, scanAll(t, s, storage.Prefix("u"))); diff != "" {
		t.Fatalf("Scan after expiry (-want +got):\n%s", diff)
	}
}

func testScanSharedStem(t *testing.T, h *harness) {
	s := h.store(t)
	keys := [][]byte{
		storage.Key("v", "d", "app", "1.0"),
		storage.Key("v", "d", "app", "2.0"),
		storage.Key("v", "d", "app2", "1.0"),
		storage.Key("v", "d", "ap"),
		storage.Key("v", "d", "app"),
		storage.Key("v", "e", "app", "1.0"),
		storage.Key("p", "d", "app", "1.0"),
	}
	for _, k := range keys {
		mustPut(t, s, k, string(k), 0)
	}
	tests := []struct {
		name   string
		prefix []byte
		want   [][]byte
	}{
		{"package", storage.Prefix("v", "d", "app"), keys[:2]},
		{"longer-sibling", storage.Prefix("v", "d", "app2"), keys[2:3]},
		{"shorter-sibling", storage.Prefix("v", "d", "ap"), nil},
		{"domain", storage.Prefix("v", "d"), [][]byte{keys[3], keys[4], keys[0], keys[1], keys[2]}},
		{"space", storage.Prefix("p"), keys[6:7]},
		{"nothing", storage.Prefix("x"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want [][2]string
			for _, k := range tt.want {
				want = append(want, [2]string{string(k), string(k)})
			}
			if diff := cmp.Diff(want, scanAll(t, s, tt.prefix)); diff != "" {
				t.Fatalf("Scan(%q) (-want +got):\n%s", tt.prefix, diff)
			}
		})
	}
}

func testScanOrder(t *testing.T, h *harness) {
	s := h.store(t)
	keys := [][]byte{
		storage.Key("r", "b"),
		storage.Key("r", "a", "z"),
		storage.Key("r", "a"),
		storage.Key("r", "é"),
		storage.Key("r", "Z"),
		storage.Key("r", "a", "b"),
		storage.Key("r", "10"),
		storage.Key("r", "9"),
		storage.Key("r", "@scope/name"),
		storage.Key("r", "org.example:lib"),
	}
	for i, k := range keys {
		mustPut(t, s, k, fmt.Sprint(i), 0)
	}
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, bytes.Compare)
	var want []string
	for _, k := range sorted {
		want = append(want, string(k))
	}
	var got []string
	for _, kv := range scanAll(t, s, storage.Prefix("r")) {
		got = append(got, kv[0])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Scan order (-want +got):\n%s", diff)
	}
	if all := scanAll(t, s, nil); len(all) != len(keys) {
		t.Fatalf("Scan(nil) found %d records, want %d", len(all), len(keys))
	}
}

func testScanStop(t *testing.T, h *harness) {
	s := h.store(t)
	for i := range 5 {
		mustPut(t, s, storage.Key("s", fmt.Sprint(i)), "v", 0)
	}
	stop := errors.New("enough")
	calls := 0
	err := s.Scan(context.Background(), storage.Prefix("s"), func(k, v []byte) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Scan = %v, want fn's error %v", err, stop)
	}
	if calls != 2 {
		t.Fatalf("fn called %d times after returning an error at call 2", calls)
	}
}

func testApply(t *testing.T, h *harness) {
	s := h.store(t)
	ctx := context.Background()
	mustPut(t, s, storage.Key("p", "old"), "old", 0)
	mustPut(t, s, storage.Key("p", "replaced"), "before", 0)
	tests := []struct {
		name string
		muts []storage.Mutation
		want [][2]string
	}{
		{"empty", nil, [][2]string{{string(storage.Key("p", "old")), "old"}, {string(storage.Key("p", "replaced")), "before"}}},
		{"puts-and-deletes", []storage.Mutation{
			{Key: storage.Key("p", "new"), Value: []byte("new")},
			{Key: storage.Key("p", "old")},
			{Key: storage.Key("p", "replaced"), Value: []byte("after")},
			{Key: storage.Key("p", "never-existed")},
			{Key: storage.Key("p", "empty"), Value: []byte{}},
		}, [][2]string{
			{string(storage.Key("p", "empty")), ""},
			{string(storage.Key("p", "new")), "new"},
			{string(storage.Key("p", "replaced")), "after"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Apply(ctx, tt.muts); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if diff := cmp.Diff(tt.want, scanAll(t, s, storage.Prefix("p"))); diff != "" {
				t.Fatalf("records after Apply (-want +got):\n%s", diff)
			}
		})
	}
}

// testApplyAtomic checks that a Scan, which reads one snapshot, never sees
// part of an Apply.
func testApplyAtomic(t *testing.T, h *harness) {
	s := h.store(t)
	ctx := context.Background()
	a, b, c := storage.Key("v", "a"), storage.Key("v", "b"), storage.Key("v", "c")
	const rounds = 200
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range rounds {
			v := []byte(fmt.Sprint(i))
			// Even rounds write a and b and delete c; odd rounds delete a and
			// write b and c. Every snapshot must show exactly one pattern.
			muts := []storage.Mutation{{Key: a, Value: v}, {Key: b, Value: v}, {Key: c}}
			if i%2 == 1 {
				muts = []storage.Mutation{{Key: a}, {Key: b, Value: v}, {Key: c, Value: v}}
			}
			if err := s.Apply(ctx, muts); err != nil {
				t.Errorf("Apply round %d: %v", i, err)
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		got := scanAll(t, s, storage.Prefix("v"))
		if len(got) == 0 {
			continue
		}
		if len(got) != 2 || got[0][1] != got[1][1] {
			t.Fatalf("Scan saw a partial Apply: %q", got)
		}
	}
}
