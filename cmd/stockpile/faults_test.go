package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage/enginetest"
	"github.com/stockpile-proxy/stockpile/storage/s3"
)

// These tests take the engines of replicas away under traffic: each test
// starts its own PostgreSQL and SeaweedFS, which it stops and starts.

// faultConfigs writes one configuration per replica on dsn and bucket, each
// with its own cache directory.
func faultConfigs(t *testing.T, upstreamURL, dsn string, b s3.Options, n int) []string {
	t.Helper()
	base, _ := os.ReadFile(writeConfig(t, upstreamURL))
	var paths []string
	for i := range n {
		cfg := string(base) + fmt.Sprintf(`storage:
  backend: postgres
  postgres: {dsn: %q}
  s3: {endpoint: %q, bucket: %q, access_key_id: %q, secret_access_key: %q, path_style: true, cache_dir: %q, cache_size: 256MiB}
`, dsn, b.Endpoint, b.Bucket, b.AccessKeyID, b.SecretAccessKey, t.TempDir())
		p := filepath.Join(t.TempDir(), fmt.Sprintf("replica%d.yaml", i))
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// answer is one response seen by a probe.
type answer struct {
	at         time.Time
	what       string
	status     int
	retryAfter string
	body       string
}

// probe GETs url and returns what came back (status 0: no answer).
func probe(client *http.Client, what, url string) answer {
	a := answer{at: time.Now(), what: what}
	resp, err := client.Get(url)
	if err != nil {
		a.body = err.Error()
		return a
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	a.status, a.retryAfter, a.body = resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
	return a
}

// startFaultReplicas starts n replicas on engines of the test's own and a
// retrying load balancer in front of them.
func startFaultReplicas(t *testing.T, up string, pg *enginetest.Postgres, w *enginetest.Weed, n int) (lb string, procs []*proc) {
	t.Helper()
	return startReplicasOn(t, up, pg.NewDatabase(t), w.NewBucket(t), n)
}

// startReplicasOn starts n replicas on database dsn and bucket b and a
// retrying load balancer in front of them.
func startReplicasOn(t *testing.T, up, dsn string, b s3.Options, n int) (lb string, procs []*proc) {
	t.Helper()
	bin := stockpileBinary(t)
	configs := faultConfigs(t, up, dsn, b, n)
	var addrs []string
	for _, c := range configs {
		addr := freeAddr(t)
		procs = append(procs, startProcess(t, bin, c, t.TempDir(), addr))
		addrs = append(addrs, addr)
	}
	return loadBalancer(t, addrs).URL, procs
}

// TestReplicasPostgresRestart restarts PostgreSQL under traffic through two
// replicas: every answer during the outage is a 200 (what the replica can
// serve without the database) or a 503 with Retry-After, in npm's error
// shape, never a 404 or a 500; once PostgreSQL is back, the replicas answer
// everything again without being restarted.
func TestReplicasPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary and its own engines")
	}
	pg := enginetest.OwnPostgres(t)
	w := enginetest.OwnWeed(t)
	up := newSlowNPM(t, 60, 64<<10, 0)
	lb, _ := startFaultReplicas(t, up.URL, pg, w, 2)
	client := &http.Client{Timeout: 30 * time.Second}
	tarball := func(i int) string {
		name := fmt.Sprintf("pkg-%03d", i)
		return lb + "/acme/npm/app/" + name + "/-/" + name + "-1.0.0.tgz"
	}
	doc := func(i int) string { return lb + fmt.Sprintf("/acme/npm/app/pkg-%03d", i) }
	for i := range 4 {
		for _, u := range []string{doc(i), tarball(i)} {
			if a := probe(client, "warm-up", u); a.status != 200 {
				t.Fatalf("warming %s: %d %s", u, a.status, a.body)
			}
		}
	}

	var mu sync.Mutex
	var seen []answer
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cold := 4
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				var a answer
				switch g {
				case 0:
					a = probe(client, "warm tarball", tarball(i%4))
				case 1:
					a = probe(client, "warm document", doc(i%4))
				default:
					mu.Lock()
					n := cold
					cold++
					mu.Unlock()
					if n >= 60 {
						n = 59
					}
					a = probe(client, "cold tarball", tarball(n))
				}
				mu.Lock()
				seen = append(seen, a)
				mu.Unlock()
			}
		})
	}
	// The scenario's phases are lengths of real time: clients against a
	// real PostgreSQL that is up, then down for 3 s, then up again.
	time.Sleep(500 * time.Millisecond)
	down := time.Now()
	pg.Stop()
	time.Sleep(3 * time.Second)
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	time.Sleep(5 * time.Second) // load after the outage, to see the stack recover
	close(stop)
	wg.Wait()

	var during, after, unavailable int
	var firstBad, lastBad time.Time
	for _, a := range seen {
		switch {
		case a.status == 200:
		case a.status == 503:
			unavailable++
			if a.retryAfter == "" {
				t.Errorf("%s at +%v: 503 without Retry-After", a.what, a.at.Sub(down))
			}
			if !strings.Contains(a.body, `"error"`) {
				t.Errorf("%s at +%v: 503 not in npm's error shape: %s", a.what, a.at.Sub(down), a.body)
			}
		default:
			t.Errorf("%s at +%v: %d %s", a.what, a.at.Sub(down), a.status, a.body)
		}
		if a.status != 200 && a.at.After(lastBad) {
			lastBad = a.at
		}
		if a.status != 200 && (firstBad.IsZero() || a.at.Before(firstBad)) {
			firstBad = a.at
		}
		if a.at.After(down) && a.at.Before(back) {
			during++
		}
		if a.at.After(back) {
			after++
		}
	}
	t.Logf("%d answers: %d during the 3 s outage, %d after; %d were 503, the first %v after PostgreSQL was stopped, the last %v after it answered again",
		len(seen), during, after, unavailable, firstBad.Sub(down), lastBad.Sub(back))
	if unavailable == 0 {
		t.Error("no 503 during the outage: the test proved nothing")
	}
	if lastBad.After(back.Add(3 * time.Second)) {
		t.Errorf("still failing %v after PostgreSQL came back", lastBad.Sub(back))
	}
	// Every tarball fetched during or after the outage is served whole.
	for i := range 60 {
		if a := probe(client, "after", tarball(i)); a.status != 200 {
			t.Errorf("pkg-%03d after the outage: %d %s", i, a.status, a.body)
		}
	}
}

// TestReplicaS3Unavailable stops the object store under a replica: what
// the replica has in its local cache is still served, whole; a tarball
// it must fetch from the upstream (its bytes cannot be stored) or read
// from the object store (not in its cache) is a 503 with Retry-After in
// npm's error shape, never a 404, a 500 or a 502; once the object store is
// back, both are served without restarting the replica.
func TestReplicaS3Unavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary and its own engines")
	}
	pg := enginetest.OwnPostgres(t)
	w := enginetest.OwnWeed(t)
	up := newSlowNPM(t, 6, 256<<10, 0)
	_, procs := startFaultReplicas(t, up.URL, pg, w, 2)
	tarball := func(p *proc, i int) string {
		base := "http://" + p.addr
		name := fmt.Sprintf("pkg-%03d", i)
		return base + "/acme/npm/app/" + name + "/-/" + name + "-1.0.0.tgz"
	}
	client := &http.Client{Timeout: time.Minute}
	get := func(u string) (answer, []byte) {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: body: %v", u, err)
		}
		return answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b)}, b
	}
	// Replica 0 fetches pkg-000 and pkg-001 (its cache and the object
	// store have them); replica 1 has neither in its cache.
	for i := range 2 {
		if a, b := get(tarball(procs[0], i)); a.status != 200 || string(b) != string(up.tarballs[fmt.Sprintf("pkg-%03d", i)]) {
			t.Fatalf("warming pkg-%03d: %d", i, a.status)
		}
	}
	w.Stop()
	down := time.Now()
	for i := range 2 {
		a, b := get(tarball(procs[0], i))
		if a.status != 200 || string(b) != string(up.tarballs[fmt.Sprintf("pkg-%03d", i)]) {
			t.Errorf("warm pkg-%03d with the object store down: %d %s", i, a.status, a.body)
		}
	}
	t.Logf("warm hits served from the local cache with the object store down")
	unavailable := func(what, u string) {
		a, _ := get(u)
		if a.status != 503 || a.retryAfter == "" || !strings.Contains(a.body, `"error"`) {
			t.Errorf("%s with the object store down: %d (Retry-After %q) %s", what, a.status, a.retryAfter, a.body)
		}
	}
	start := time.Now()
	unavailable("cold tarball (from the upstream)", tarball(procs[0], 2))
	t.Logf("a cold tarball from the upstream answered in %v", time.Since(start))
	start = time.Now()
	unavailable("tarball stored but not in this replica's cache", tarball(procs[1], 0))
	t.Logf("a tarball to read from the object store answered in %v", time.Since(start))

	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("the object store was down for %v", time.Since(down))
	for _, u := range []string{tarball(procs[0], 2), tarball(procs[1], 0), tarball(procs[1], 3)} {
		if a, _ := get(u); a.status != 200 {
			t.Errorf("%s once the object store is back: %d %s", u, a.status, a.body)
		}
	}
}
