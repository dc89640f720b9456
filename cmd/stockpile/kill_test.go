package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/storage/postgres"
	"github.com/stockpile-proxy/stockpile/storage/s3"
)

// checkSharedStore opens the replicas' database and bucket with an empty
// cache of its own and reads every blob of domain acme from the object
// store: each must be whole (the store checks size and SHA-256 as it
// downloads). It returns how many there are.
func checkSharedStore(t *testing.T, dsn string, b s3.Options) int {
	t.Helper()
	objects, err := s3.New(b, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Options{DSN: dsn, Objects: objects, CacheDir: t.TempDir(), CacheSize: 1 << 30, SweepInterval: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var blobs []storage.BlobInfo
	if err := s.ListBlobs(ctx, "acme", func(b storage.BlobInfo) error { blobs = append(blobs, b); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, bi := range blobs {
		r, err := s.OpenBlob(ctx, "acme", bi.SHA256)
		if err != nil {
			t.Errorf("blob %s does not open whole: %v", bi.SHA256, err)
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, r)
		r.Close()
		if err != nil || n != bi.Size || hex.EncodeToString(h.Sum(nil)) != bi.SHA256 {
			t.Errorf("blob %s reads as %d bytes (%v), SHA-256 %x", bi.SHA256, n, err, h.Sum(nil))
		}
	}
	return len(blobs)
}

// fetchAll GETs every url in parallel and returns what went wrong.
func fetchAll(client *http.Client, urls map[string][]byte) []string {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failures []string
	for u, want := range urls {
		wg.Go(func() {
			resp, err := client.Get(u)
			var got []byte
			if err == nil {
				got, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, want) {
				status := 0
				if resp != nil {
					status = resp.StatusCode
				}
				mu.Lock()
				what := fmt.Sprintf("%d bytes", len(got))
				if status != 200 {
					what = strings.TrimSpace(string(got[:min(len(got), 300)]))
				}
				failures = append(failures, fmt.Sprintf("%s: %d, %s, %v", u, status, what, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failures
}

// TestReplicaKilledDuringDownloads kills one of three replicas with SIGKILL
// while 100 clients download 100 different tarballs through the retrying
// load balancer: every client gets its tarball whole, every blob the
// cluster stored reads back whole from the object store, and each living
// replica then serves every tarball right.
func TestReplicaKilledDuringDownloads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	up := newSlowNPM(t, 100, 1<<20, 15*time.Millisecond)
	dsn, b := engines.Postgres(t).NewDatabase(t), engines.S3(t).NewBucket(t)
	lb, procs := startReplicasOn(t, up.URL, dsn, b, 3)
	urls := func(base string) map[string][]byte {
		m := map[string][]byte{}
		for name, tgz := range up.tarballs {
			m[base+"/acme/npm/app/"+name+"/-/"+name+"-1.0.0.tgz"] = tgz
		}
		return m
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	start := time.Now()
	done := make(chan []string, 1)
	go func() { done <- fetchAll(client, urls(lb)) }()
	// Kill once transfers are under way (each takes about 250 ms upstream).
	up.awaitStarted(30, time.Minute)
	procs[1].kill()
	t.Logf("replica 1 killed after %d of 100 tarballs had started upstream", up.started())
	if failures := <-done; len(failures) > 0 {
		t.Fatalf("%d of 100 downloads failed through the load balancer: %s", len(failures), strings.Join(failures[:min(5, len(failures))], "; "))
	}
	t.Logf("all 100 downloads whole through the load balancer in %v", time.Since(start))
	t.Logf("%d blobs stored, all whole", checkSharedStore(t, dsn, b))
	for _, i := range []int{0, 2} {
		if failures := fetchAll(client, urls("http://"+procs[i].addr)); len(failures) > 0 {
			t.Errorf("replica %d after the kill: %d tarballs not served right: %s", i, len(failures), strings.Join(failures[:min(5, len(failures))], "; "))
		}
	}
}

// started is how many tarball downloads the registry has begun.
func (s *slowNPM) started() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.hits {
		n += h
	}
	return n
}

// awaitStarted waits until n tarball downloads have begun, or d passed.
func (s *slowNPM) awaitStarted(n int, d time.Duration) {
	timeout := time.After(d)
	for {
		s.mu.Lock()
		hit := s.hit
		s.mu.Unlock()
		if s.started() >= n {
			return
		}
		select {
		case <-hit:
		case <-timeout:
			return
		}
	}
}

// bigPublish is the body of `npm publish` for name@version with a tarball
// of size random bytes (not a real gzip: the registry stores it as sent),
// and the tarball.
func bigPublish(name, version string, size int) (body, tgz []byte) {
	tgz = make([]byte, size)
	for i := range tgz {
		tgz[i] = byte(i*7 + i/4093)
	}
	copy(tgz, version)
	s1, s512 := sha1.Sum(tgz), sha512.Sum512(tgz)
	file := name + "-" + version + ".tgz"
	body, _ = json.Marshal(map[string]any{"_id": name, "name": name, "dist-tags": map[string]string{"latest": version},
		"versions": map[string]any{version: map[string]any{"name": name, "version": version,
			"dist": map[string]string{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]), "tarball": "http://client.invalid/" + file}}},
		"_attachments": map[string]any{file: map[string]any{"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tgz), "length": len(tgz)}}})
	return body, tgz
}

// dripReader yields its bytes in pieces with a pause between them and
// counts what it has yielded; reached is closed once at bytes are.
type dripReader struct {
	b       []byte
	piece   int
	pause   time.Duration
	sent    atomic.Int64
	at      int64
	reached chan struct{}
}

func (d *dripReader) Read(p []byte) (int, error) {
	if len(d.b) == 0 {
		return 0, io.EOF
	}
	time.Sleep(d.pause) // the slow client's pace: a piece a pause
	n := copy(p[:min(len(p), d.piece)], d.b)
	d.b = d.b[n:]
	if s := d.sent.Add(int64(n)); s >= d.at && s-int64(n) < d.at {
		close(d.reached)
	}
	return n, nil
}

// TestReplicaKilledDuringPublish kills a replica with SIGKILL in the middle
// of an npm publish of a 24 MiB tarball (stored in parts), once while the
// request body is arriving and once just after it has all arrived: each
// time the version is either absent on every replica or whole on every
// replica (document and tarball), never half there, and the client's
// retry through the load balancer succeeds (or, when the first attempt
// had committed, is refused as a republish while the version is whole).
func TestReplicaKilledDuringPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	up := newSlowNPM(t, 0, 0, 0)
	dsn, b := engines.Postgres(t).NewDatabase(t), engines.S3(t).NewBucket(t)
	lb, procs := startReplicasOn(t, up.URL, dsn, b, 3)
	const name = "internal-big"
	client := &http.Client{Timeout: 2 * time.Minute}
	// state reports what replica base shows of name@version: "absent",
	// "whole", or what is wrong.
	state := func(base, version string, tgz []byte) string {
		resp, err := client.Get(base + "/acme/npm/app/" + name)
		if err != nil {
			return err.Error()
		}
		doc, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		listed := resp.StatusCode == 200 && bytes.Contains(doc, []byte(`"`+version+`"`))
		if resp.StatusCode != 200 && resp.StatusCode != 404 {
			return fmt.Sprintf("document: %d %s", resp.StatusCode, doc)
		}
		resp, err = client.Get(base + "/acme/npm/app/" + name + "/-/" + name + "-" + version + ".tgz")
		if err != nil {
			return err.Error()
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case !listed && resp.StatusCode == 404:
			return "absent"
		case listed && resp.StatusCode == 200 && bytes.Equal(got, tgz):
			return "whole"
		}
		return fmt.Sprintf("half there: listed %v, tarball %d with %d bytes", listed, resp.StatusCode, len(got))
	}
	publish := func(base string, body io.Reader) (int, string, error) {
		req, _ := http.NewRequest(http.MethodPut, base+"/acme/npm/app/"+name, body)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg), nil
	}

	killed := map[int]bool{}
	for _, tc := range []struct {
		name    string
		version string
		victim  int
		// killAt is how many body bytes are sent before the kill; -1
		// kills right after the whole body is sent.
		killAt int
	}{
		{"while the body arrives", "1.0.0", 1, 8 << 20},
		{"after the body arrived", "1.0.1", 2, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, tgz := bigPublish(name, tc.version, 24<<20)
			victim := procs[tc.victim]
			want := int64(tc.killAt)
			if want < 0 {
				want = int64(len(body))
			}
			d := &dripReader{b: body, piece: 1 << 20, pause: 20 * time.Millisecond, at: want, reached: make(chan struct{})}
			if tc.killAt < 0 {
				d.pause = 0
			}
			res := make(chan error, 1)
			go func() {
				status, msg, err := publish("http://"+victim.addr, d)
				if err == nil {
					err = fmt.Errorf("answered %d %s", status, msg)
				}
				res <- err
			}()
			select {
			case <-d.reached:
			case <-time.After(2 * time.Minute):
				t.Fatalf("the client did not send %d body bytes within 2 minutes", want)
			}
			total := d.sent.Load()
			victim.kill()
			t.Logf("replica %d killed after %d of %d body bytes: the client saw %v", tc.victim, total, len(body), <-res)

			killed[tc.victim] = true
			var living []string
			for j, p := range procs {
				if !killed[j] {
					living = append(living, "http://"+p.addr)
				}
			}
			// The living replicas learn of a commit through the change
			// feed: give them a moment to agree, never to be half there.
			var before map[string]bool
			for deadline := time.Now().Add(5 * time.Second); ; {
				before = map[string]bool{}
				for _, base := range living {
					st := state(base, tc.version, tgz)
					if st != "absent" && st != "whole" {
						t.Fatalf("after the kill, %s: %s", base, st)
					}
					before[st] = true
				}
				if len(before) == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("5 s after the kill the replicas still disagree: %v", before)
				}
				time.Sleep(100 * time.Millisecond) // other processes: they announce nothing to wait on
			}
			t.Logf("after the kill the version was %v on every living replica", before)

			// The client retries while the load balancer finds no backend
			// (it sends a PUT to one backend, which may be the dead one).
			var status int
			var msg string
			var err error
			for range len(procs) {
				status, msg, err = publish(lb, bytes.NewReader(body))
				if err != nil || status != http.StatusBadGateway || !strings.Contains(msg, "no backend answered") {
					break
				}
			}
			switch {
			case err != nil:
				t.Fatalf("the retried publish: %v", err)
			case status == 200 || status == 201:
			case status == 409 && before["whole"]:
				t.Logf("the retry was refused as a republish (%s): the first attempt had committed", strings.TrimSpace(msg))
			default:
				t.Fatalf("the retried publish through the load balancer: %d %s", status, msg)
			}
			for _, base := range living {
				if st := state(base, tc.version, tgz); st != "whole" {
					t.Errorf("after the retry, %s: %s", base, st)
				}
			}
		})
	}
	t.Logf("%d blobs stored, all whole", checkSharedStore(t, dsn, b))
}
