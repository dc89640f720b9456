package npm

import (
	"bytes"
	"net/http"
	"sync"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
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
	// Every client waits on a shared fetch (the replica that fetches, or
	// the others' flights held by the cluster lock) before the upstream
	// answers.
	results := e.heldGets(t, path, e.url("app", "left-pad-lite/-/left-pad-lite-1.1.0.tgz"), clients, "every client waiting on a fetch", clients)
	for i, r := range results {
		if r.readErr != nil || r.status != http.StatusOK || !bytes.Equal(r.body, want) {
			t.Fatalf("client %d: status %d, %d bytes, %v", i, r.status, len(r.body), r.readErr)
		}
	}
	if n := e.fake.Hits(path); n != 1 {
		t.Fatalf("the upstream was asked for the tarball %d times by three replicas, want 1", n)
	}
}

// heldGets sends clients concurrent GETs of url while the upstream holds
// its answer for path, lets the upstream answer once at least waiting more
// requests wait on a fetch (what names that moment), and returns the
// answers. The upstream's hit counts start from zero.
func (e *env) heldGets(t *testing.T, path, url string, clients int, what string, waiting int) []*result {
	t.Helper()
	gate := make(chan struct{})
	e.fake.Fault(path, upstreamtest.Fault{Gate: gate})
	e.fake.ResetHits()
	waits := e.in.Events.Counts().FetchWaits
	results := make([]*result, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { results[i] = e.doWith(e.http, http.MethodGet, url, nil) })
	}
	e.in.Events.Await(t, what, func(c proxytest.EventCounts) bool { return c.FetchWaits >= waits+waiting })
	close(gate)
	wg.Wait()
	return results
}

// TestReplicasOneDocumentFetch sends concurrent requests for the packument
// of a package no replica has seen through the load balancer over three
// replicas, holding the upstream's answer until every replica has started
// its refresh, and checks that the upstream was asked for the packument
// once and every client got it.
func TestReplicasOneDocumentFetch(t *testing.T) {
	e := newEnvReplicas(t, 3)
	const clients = 30
	path := "/left-pad-lite"
	// One replica is at the upstream, the two others wait for its
	// document under the cluster lock.
	results := e.heldGets(t, path, e.url("app", "left-pad-lite"), clients, "every replica refreshing the packument", 3)
	for i, r := range results {
		if r.readErr != nil || r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"1.1.0"`)) {
			t.Fatalf("client %d: status %d, %v: %.200s", i, r.status, r.readErr, r.body)
		}
	}
	if n := e.fake.Hits(path); n != 1 {
		t.Fatalf("the upstream was asked for the packument %d times by three replicas, want 1", n)
	}
}

// TestReplicasPublishRace publishes one version of one package at once
// through the load balancer, the requests spread over three replicas: the
// package lock is shared by the replicas, so exactly one publish succeeds
// and the version stored is whole.
func TestReplicasPublishRace(t *testing.T) {
	e := newEnvReplicas(t, 3)
	f := e.fx["@acme/private-lib@1.0.0"]
	body := publishBody(f, "latest", nil)
	const publishers = 9
	statuses := make([]int, publishers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range publishers {
		wg.Go(func() {
			<-start
			statuses[i] = e.do(http.MethodPut, e.url("internal", escapeName(f.name)), body).status
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		} else if s < 400 || s >= 500 {
			t.Errorf("a losing publish answered %d, want a 4xx", s)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent publishes of one version succeeded (%v), want exactly 1", ok, publishers, statuses)
	}
	r := e.get("internal", "@acme/private-lib/-/private-lib-1.0.0.tgz").must(t, http.StatusOK)
	if !bytes.Equal(r.body, f.tgz) {
		t.Fatal("the published tarball differs from the one sent")
	}
}
