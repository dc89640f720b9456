package npm

import (
	"bytes"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// TestReplicasOneUpstreamFetch sends concurrent requests for one cold
// tarball through a load balancer in front of three replicas on PostgreSQL
// and SeaweedFS, holding the upstream's answer until every replica has had
// requests, and checks that the upstream was asked for the tarball once
// and every client got the right bytes.
func TestReplicasOneUpstreamFetch(t *testing.T) {
	runOneUpstreamFetch(t, newEnvReplicas(t, 3))
}

func runOneUpstreamFetch(t *testing.T, e *env) {
	const clients = 60
	path := upstreamTarballPath("left-pad-lite", "1.1.0")
	want := e.fx["left-pad-lite@1.1.0"].tgz
	// The packument first, so the replicas know the tarball; it is not what
	// is counted.
	for range 3 {
		e.get("app", "left-pad-lite").must(t, http.StatusOK)
	}
	gate := make(chan struct{})
	e.fake.Fault(path, upstreamtest.Fault{Gate: gate})
	e.fake.ResetHits()
	results := make([]*result, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			results[i] = e.doWith(e.http, http.MethodGet, e.url("app", "left-pad-lite/-/left-pad-lite-1.1.0.tgz"), nil)
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.fake.Hits(path) == 0 {
		if time.Now().After(deadline) {
			close(gate)
			t.Fatal("no replica asked the upstream for the tarball within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second) // the other replicas' requests arrive and wait
	close(gate)
	wg.Wait()
	for i, r := range results {
		if r.readErr != nil || r.status != http.StatusOK || !bytes.Equal(r.body, want) {
			t.Fatalf("client %d: status %d, %d bytes, %v", i, r.status, len(r.body), r.readErr)
		}
	}
	if n := e.fake.Hits(path); n != 1 {
		t.Fatalf("the upstream was asked for the tarball %d times by three replicas, want 1", n)
	}
}
