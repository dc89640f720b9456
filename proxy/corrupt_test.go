package proxy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// flipStoredByte finds the file below dir that holds exactly want and flips
// one of its bytes, keeping its size.
func flipStoredByte(t *testing.T, dir string, want []byte) {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(b, want) {
			return err
		}
		b[len(b)/2] ^= 0x20
		found = true
		return os.WriteFile(path, b, 0o600)
	})
	if err != nil || !found {
		t.Fatalf("no stored file holds the blob (%v)", err)
	}
}

func corruptFixture() []byte {
	return []byte(strings.Repeat("the bytes of a small asset, served from memory\n", 40))
}

// TestCorruptSmallBlobIsNotServed flips a byte of a cached asset's stored
// file (same size): the small-blob read path finds it, never answers 200
// with the wrong bytes, and fetches the asset again from its upstream.
func TestCorruptSmallBlobIsNotServed(t *testing.T) {
	in, up, base := startEngineWith(t, upstream.Options{}, proxytest.Options{OnDisk: true})
	body := corruptFixture()
	up.PublishBody(t, "demo", "1.0.0", body)
	url := base + "/demo/1.0.0/demo-1.0.0.txt"
	if code, got := get(t, url); code != 200 || got != string(body) {
		t.Fatalf("first download: %d", code)
	}
	in.Restart() // nothing in memory
	flipStoredByte(t, in.DataDir(), body)
	hits := up.Fake.Hits("/files/demo-1.0.0.txt")
	code, got := get(t, url)
	if code == 200 && got != string(body) {
		t.Fatal("the corrupt bytes were served with 200")
	}
	if code != 200 || got != string(body) {
		t.Fatalf("after the corruption: %d, want the bytes fetched again", code)
	}
	if up.Fake.Hits("/files/demo-1.0.0.txt") != hits+1 {
		t.Errorf("the upstream was asked %d times, want once more", up.Fake.Hits("/files/demo-1.0.0.txt")-hits)
	}
	if code, got := get(t, url); code != 200 || got != string(body) {
		t.Fatalf("download after the refetch: %d", code)
	}
}

// TestCheckFindsCorruptBlobs flips a byte of a cached asset's stored file:
// a check (what stockpile fsck runs) reports it with the version that
// referred to it and takes it out of service; the next download fetches
// the asset again from its upstream and serves it right.
func TestCheckFindsCorruptBlobs(t *testing.T) {
	in, up, base := startEngineWith(t, upstream.Options{}, proxytest.Options{OnDisk: true})
	body := corruptFixture()
	up.PublishBody(t, "demo", "1.0.0", body)
	up.PublishBody(t, "other", "1.0.0", []byte("another asset, left alone\n"))
	url := base + "/demo/1.0.0/demo-1.0.0.txt"
	for _, u := range []string{url, base + "/other/1.0.0/other-1.0.0.txt"} {
		if code, _ := get(t, u); code != 200 {
			t.Fatalf("download %s: %d", u, code)
		}
	}
	flipStoredByte(t, in.DataDir(), body)

	ctx := context.Background()
	var findings []resolver.Finding
	st, err := in.Server.Resolver().Check(ctx, resolver.CheckOptions{}, func(f resolver.Finding) { findings = append(findings, f) })
	if err != nil {
		t.Fatal(err)
	}
	if st.Blobs != 2 || st.Corrupt != 1 || len(findings) != 1 {
		t.Fatalf("check: %+v, findings %+v", st, findings)
	}
	f := findings[0]
	if f.Domain != "acme" || len(f.Versions) == 0 {
		t.Fatalf("finding %+v", f)
	}
	for _, v := range f.Versions {
		if v.Package.Name != "demo" || v.Version != "1.0.0" || !v.Refetch {
			t.Errorf("affected version %+v, want demo 1.0.0 to be fetched again", v)
		}
	}
	if st, _ := in.Server.Resolver().Check(ctx, resolver.CheckOptions{}, func(resolver.Finding) {}); st.Blobs != 1 || st.Corrupt != 0 {
		t.Fatalf("second check: %+v, want the corrupt blob gone", st)
	}
	if code, got := get(t, url); code != 200 || got != string(body) {
		t.Fatalf("download after the check: %d", code)
	}
	if !held(t, in, "app", "demo", "1.0.0") {
		t.Error("the retained version record is gone")
	}
}

// fakeClock advances only when the scrub sleeps; a sleep of an hour or more
// (the wait for the next pass) ends the scrub.
type fakeClock struct {
	now    time.Time
	paced  time.Duration // slept to keep the rate
	cancel context.CancelFunc
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if d >= time.Hour {
		c.cancel()
		return ctx.Err()
	}
	c.paced += d
	c.now = c.now.Add(d)
	return nil
}

// TestScrub runs one pass of the online scrub at 64 KiB/s on a fake clock:
// it paces its reads to that rate and takes the corrupt blob out of
// service, and the asset is then fetched again and served right.
func TestScrub(t *testing.T) {
	in, up, base := startEngineWith(t, upstream.Options{}, proxytest.Options{OnDisk: true})
	body := corruptFixture()
	other := bytes.Repeat([]byte("a larger asset the scrub reads in several steps\n"), 20000)
	up.PublishBody(t, "demo", "1.0.0", body)
	up.PublishBody(t, "other", "1.0.0", other)
	url := base + "/demo/1.0.0/demo-1.0.0.txt"
	for _, u := range []string{url, base + "/other/1.0.0/other-1.0.0.txt"} {
		if code, _ := get(t, u); code != 200 {
			t.Fatalf("download %s: %d", u, code)
		}
	}
	flipStoredByte(t, in.DataDir(), body)
	ctx, cancel := context.WithCancel(context.Background())
	clock := &fakeClock{now: time.Unix(1e9, 0), cancel: cancel}
	const rate = 64 << 10
	in.Server.Resolver().Scrub(ctx, resolver.ScrubOptions{Rate: rate, Interval: 24 * time.Hour, Clock: clock})
	want := time.Duration(float64(len(body)+len(other)) / rate * float64(time.Second))
	if d := clock.paced - want; d < -want/100 || d > want/100 {
		t.Errorf("the scrub slept %v for %d bytes at %d B/s, want %v", clock.paced, len(body)+len(other), rate, want)
	}
	sum := sha256.Sum256(body)
	if _, err := in.Store.StatBlob(context.Background(), "acme", hex.EncodeToString(sum[:])); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the corrupt blob is still stored after the scrub (%v)", err)
	}
	hits := up.Fake.Hits("/files/demo-1.0.0.txt")
	if code, got := get(t, url); code != 200 || got != string(body) {
		t.Fatalf("download after the scrub: %d", code)
	}
	if up.Fake.Hits("/files/demo-1.0.0.txt") != hits+1 {
		t.Error("the corrupt asset was not fetched again")
	}
}
