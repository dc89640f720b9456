package proxytest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
)

// StartReplicas starts n servers on one shared store (opts.OpenStore must
// open each replica's store on the same database and object store) behind
// a round-robin load balancer, an httputil.ReverseProxy on loopback that
// keeps the client's Host, as a load balancer in front of replicas would.
// It returns the front: an Instance whose URL is the load balancer's and
// whose Server and Store are the first replica's (tokens minted there are
// good on every replica, which share the signing key), and the replicas.
func StartReplicas(t testing.TB, opts Options, n int) (front *Instance, replicas []*Instance) {
	t.Helper()
	if opts.OpenStore == nil {
		t.Fatal("proxytest: StartReplicas needs Options.OpenStore")
	}
	if opts.Clock == nil {
		opts.Clock = NewClock()
	}
	if opts.Events == nil {
		opts.Events = NewEvents()
	}
	var targets []*url.URL
	for range n {
		in := Start(t, opts)
		replicas = append(replicas, in)
		u, _ := url.Parse(in.URL)
		targets = append(targets, u)
	}
	var next atomic.Uint64
	lb := httptest.NewServer(&httputil.ReverseProxy{
		Director: func(r *http.Request) {
			u := targets[next.Add(1)%uint64(len(targets))]
			r.URL.Scheme, r.URL.Host = u.Scheme, u.Host
		},
		FlushInterval: -1,
	})
	t.Cleanup(lb.Close)
	f := *replicas[0]
	f.URL = lb.URL
	return &f, replicas
}
