// Package load is the bench's load generator: keep-alive connections
// asking one URL, or a random mix, for a duration or a count, every answer
// checked, latencies in an HDR-style histogram; and the GETs the scenarios
// make by themselves.
package load

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Limits every load run obeys, whatever the flags say: the machine is shared.
const (
	MaxConnections = 1000
	MaxDuration    = 120 * time.Second
	MaxWarmup      = 30 * time.Second
	maxRequests    = 10_000_000
)

// Body buffers: large enough that a 300 KB tarball takes a few reads, all
// connections together within a bound (the cold burst has up to 1000).
const (
	maxReadBuffer    = 256 << 10
	minReadBuffer    = 16 << 10
	readBufferBudget = 16 << 20
)

// Request is what each connection of a load run asks, over and over.
type Request struct {
	Method string      `json:"method,omitempty"` // GET when empty
	URL    string      `json:"url"`
	Header http.Header `json:"-"` // holds the token
	// AllowRemote lets the run go to a host that is not loopback; only an
	// explicit --target sets it.
	AllowRemote bool `json:"-"`
}

// Expect is what a response must look like to count as a success.
type Expect struct {
	Status int   // exact status; 0 accepts any 2xx
	Bytes  int64 // exact body length; 0 only checks the body against Content-Length
	// SHA256, when set, is the digest the body must have (costs a hash per
	// response; the cold burst uses it, the steady-state runs do not).
	SHA256 []byte
	// Maphash, when set, is the body's sum under NewMaphash: a check cheap
	// enough for gigabytes, where SHA-256 would take the measured server's
	// cores.
	Maphash uint64
	// Contains, when set, must occur in the body (kept whole to look).
	Contains []byte
}

// maphashSeed seeds every Expect.Maphash of the process.
var maphashSeed = maphash.MakeSeed()

// NewMaphash returns a hash whose Sum64 is what Expect.Maphash compares.
func NewMaphash() *maphash.Hash {
	var h maphash.Hash
	h.SetSeed(maphashSeed)
	return &h
}

// Config shapes one load run.
type Config struct {
	Connections int           `json:"connections"`        // concurrent connections, each with its own client
	Duration    time.Duration `json:"duration_ns"`        // measured time; ignored when Requests > 0
	Requests    int           `json:"requests,omitempty"` // fixed number of measured requests (all connections together)
	// PerConnection, when set with Requests, caps each connection's share:
	// the cold burst's clients send exactly one request each.
	PerConnection int           `json:"per_connection,omitempty"`
	Warmup        time.Duration `json:"warmup_ns"`  // unmeasured time before the measurement
	Timeout       time.Duration `json:"timeout_ns"` // per request; 30s when zero
	// Seed seeds the connections' choice among RunMix's requests.
	Seed uint64 `json:"seed,omitempty"`
	// Pick, when set, chooses each request of connection conn and what its
	// answer must look like, instead of RunMix's random choice (soak's
	// installs: a packument, then the tarball it names).
	Pick func(conn int, rng *rand.Rand) (Request, Expect) `json:"-"`
	// MaxDuration, when set, replaces MaxDuration as the bound of Duration
	// (soak's own, longer bound).
	MaxDuration time.Duration `json:"-"`
	// Observer, when set, is told when the measurement starts and ends
	// (the process sampler uses it to take CPU time over that window only).
	Observer Observer `json:"-"`
}

// Observer watches the measured window of a load run.
type Observer interface {
	MeasureStart()
	MeasureEnd()
}

// Validate checks the bounds of c.
func (c Config) Validate() error {
	var errs []error
	if c.Connections < 1 || c.Connections > MaxConnections {
		errs = append(errs, fmt.Errorf("connections %d: must be between 1 and %d", c.Connections, MaxConnections))
	}
	if c.Requests < 0 || c.Requests > maxRequests {
		errs = append(errs, fmt.Errorf("requests %d: must be between 0 and %d", c.Requests, maxRequests))
	}
	if c.PerConnection < 0 || (c.PerConnection > 0 && c.Requests == 0) {
		errs = append(errs, fmt.Errorf("per-connection %d: needs a request count", c.PerConnection))
	}
	limit := cmp.Or(c.MaxDuration, MaxDuration)
	if c.Requests == 0 && (c.Duration <= 0 || c.Duration > limit) {
		errs = append(errs, fmt.Errorf("duration %s: must be above 0 and at most %s", c.Duration, limit))
	}
	if c.Warmup < 0 || c.Warmup > MaxWarmup {
		errs = append(errs, fmt.Errorf("warm-up %s: must be between 0 and %s", c.Warmup, MaxWarmup))
	}
	return errors.Join(errs...)
}

// Result is what one load run measured.
type Result struct {
	Requests   uint64        `json:"requests"`              // measured requests that completed (successes and errors)
	OK         uint64        `json:"ok"`                    // measured successes
	Errors     ErrorCounts   `json:"errors"`                // measured failures, by kind
	Bytes      uint64        `json:"bytes"`                 // body bytes read by measured requests
	Elapsed    time.Duration `json:"elapsed_ns"`            // from the start of the measurement to the last measured completion
	TimeCapped bool          `json:"time_capped,omitempty"` // a fixed-count run hit MaxDuration before its count
	Latency    *Histogram    `json:"latency_ns"`            // successes only
	TTFB       time.Duration `json:"ttfb_ns"`               // mean time to the response headers of the successes
}

// ErrorCounts counts failed requests by kind.
type ErrorCounts struct {
	Status    uint64 `json:"status"`    // a status other than the expected one
	Short     uint64 `json:"short"`     // a body shorter (or longer) than expected
	Digest    uint64 `json:"digest"`    // a body with the wrong bytes
	Transport uint64 `json:"transport"` // connection errors, timeouts
}

// Total returns the number of failed requests.
func (e ErrorCounts) Total() uint64 { return e.Status + e.Short + e.Digest + e.Transport }

func (e *ErrorCounts) Add(o ErrorCounts) {
	e.Status += o.Status
	e.Short += o.Short
	e.Digest += o.Digest
	e.Transport += o.Transport
}

// RequestsPerSecond returns successes per second of measured time.
func (r *Result) RequestsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// BytesPerSecond returns body bytes per second of measured time.
func (r *Result) BytesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / r.Elapsed.Seconds()
}

// Run runs cfg's connections against req until the measured duration or
// request count is reached (or ctx ends), and returns what was measured. All
// connections start together, after each has been created. Requests that
// start during the warm-up are not measured; nor are those still in flight
// when the measured duration ends, which are waited for but not counted.
func Run(ctx context.Context, cfg Config, req Request, want Expect) (*Result, error) {
	return RunMix(ctx, cfg, []Request{req}, []Expect{want})
}

// RunMix is Run where each request is one of reqs, picked at random (seeded
// by cfg.Seed and the connection), and must look like the Expect of the
// same index.
//
// It is long for one reason: the measured window is shared by the
// connections' loop and the bookkeeping around it.
func RunMix(ctx context.Context, cfg Config, reqs []Request, wants []Expect) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if cfg.Pick == nil && (len(reqs) == 0 || len(reqs) != len(wants)) {
		return nil, fmt.Errorf("load: %d requests and %d expectations", len(reqs), len(wants))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	// Build each request once; each connection clones them.
	protos := make([]*http.Request, len(reqs))
	for i, req := range reqs {
		proto, err := newRequest(ctx, req)
		if err != nil {
			return nil, err
		}
		protos[i] = proto
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := make(chan struct{})
	var (
		measureStart time.Time // written before start is closed
		measureEnd   time.Time // zero in count mode
		hardEnd      time.Time
		tickets      atomic.Int64 // remaining measured requests in count mode
		lastDone     atomic.Int64 // unix nanos of the last measured completion
	)
	workers := make([]*worker, cfg.Connections)
	for i := range workers {
		workers[i] = newWorker(cfg, protos, wants, rand.New(rand.NewPCG(cfg.Seed, uint64(i))))
		workers[i].conn = i
	}
	defer func() {
		for _, w := range workers {
			w.client.CloseIdleConnections()
		}
	}()

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			<-start
			for ctx.Err() == nil {
				now := time.Now()
				measured := !now.Before(measureStart)
				if measured {
					if cfg.Requests > 0 {
						if cfg.PerConnection > 0 && w.sent >= cfg.PerConnection {
							return
						}
						if tickets.Add(-1) < 0 || now.After(hardEnd) {
							return
						}
						w.sent++
					} else if !now.Before(measureEnd) {
						return
					}
				}
				failed, n, lat, ttfb := w.do(ctx)
				if ctx.Err() != nil && failed.Transport > 0 {
					return // the run was cancelled, not failed
				}
				if measured {
					w.count(failed, n, lat, ttfb)
					done := now.Add(lat).UnixNano()
					for {
						prev := lastDone.Load()
						if done <= prev || lastDone.CompareAndSwap(prev, done) {
							break
						}
					}
				}
			}
		})
	}
	now := time.Now()
	measureStart = now.Add(cfg.Warmup)
	hardEnd = measureStart.Add(MaxDuration)
	if cfg.Requests > 0 {
		tickets.Store(int64(cfg.Requests))
	} else {
		measureEnd = measureStart.Add(cfg.Duration)
	}
	observerDone := watchMeasurement(ctx, cfg.Observer, measureStart)
	close(start)
	wg.Wait()
	<-observerDone
	if cfg.Observer != nil {
		cfg.Observer.MeasureEnd()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}

	res := &Result{Latency: &Histogram{}}
	for _, w := range workers {
		res.OK += w.ok
		res.Errors.Add(w.errs)
		res.Bytes += w.bytes
		res.Latency.Merge(&w.hist)
	}
	res.Requests = res.OK + res.Errors.Total()
	var ttfb time.Duration
	for _, w := range workers {
		ttfb += w.ttfb
	}
	if res.OK > 0 {
		res.TTFB = ttfb / time.Duration(res.OK)
	}
	if last := lastDone.Load(); last > 0 {
		res.Elapsed = time.Unix(0, last).Sub(measureStart)
	}
	res.TimeCapped = cfg.Requests > 0 && res.Requests < uint64(cfg.Requests)
	return res, nil
}

// newRequest builds the http.Request of req, only to loopback unless req
// allows otherwise.
func newRequest(ctx context.Context, req Request) (*http.Request, error) {
	if err := CheckLoopback(req.URL, req.AllowRemote); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	r, err := http.NewRequestWithContext(ctx, cmp.Or(req.Method, http.MethodGet), req.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	for k, vs := range req.Header {
		r.Header[k] = append([]string(nil), vs...)
	}
	return r, nil
}

// watchMeasurement tells o when the measurement starts; the returned channel
// closes once it has (or once ctx ends).
func watchMeasurement(ctx context.Context, o Observer, at time.Time) <-chan struct{} {
	done := make(chan struct{})
	if o == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		o.MeasureStart()
	}()
	return done
}

// worker is one connection of a load run: its own keep-alive client and its
// own counters, merged when the run ends.
type worker struct {
	client *http.Client
	protos []*http.Request
	wants  []Expect
	pick   func(int, *rand.Rand) (Request, Expect)
	conn   int
	rng    *rand.Rand
	hasher hash.Hash
	mh     *maphash.Hash
	body   []byte // the whole body, when an Expect looks into it
	buf    []byte

	sent  int // measured requests sent (count mode)
	hist  Histogram
	ok    uint64
	bytes uint64
	errs  ErrorCounts
	ttfb  time.Duration // summed over the successes
}

func newWorker(cfg Config, protos []*http.Request, wants []Expect, rng *rand.Rand) *worker {
	tr := &http.Transport{
		Proxy:               nil, // a benchmark of loopback servers never goes through a proxy
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Connections,
		MaxIdleConnsPerHost: cfg.Connections,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // bodies as served, never gunzipped on the way
		ForceAttemptHTTP2:   false,
	}
	w := &worker{
		client: &http.Client{Transport: tr, Timeout: cfg.Timeout},
		protos: protos,
		wants:  wants,
		pick:   cfg.Pick,
		rng:    rng,
		hasher: sha256.New(),
		mh:     NewMaphash(),
		buf:    make([]byte, min(max(readBufferBudget/cfg.Connections, minReadBuffer), maxReadBuffer)),
	}
	return w
}

// do sends one request and reads the whole answer; it returns how it
// failed (nothing counted: a success), the body's length and the latency.
func (w *worker) do(ctx context.Context) (ErrorCounts, int64, time.Duration, time.Duration) {
	var req *http.Request
	var want Expect
	if w.pick != nil {
		r, e := w.pick(w.conn, w.rng)
		var err error
		if req, err = newRequest(ctx, r); err != nil {
			return ErrorCounts{Transport: 1}, 0, 0, 0
		}
		want = e
	} else {
		i := 0
		if len(w.protos) > 1 {
			i = w.rng.IntN(len(w.protos))
		}
		req, want = w.protos[i].Clone(ctx), w.wants[i]
	}
	t0 := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		return ErrorCounts{Transport: 1}, 0, time.Since(t0), 0
	}
	ttfb := time.Since(t0)
	n, err := w.drain(resp.Body, want)
	resp.Body.Close()
	lat := time.Since(t0)
	var failed ErrorCounts
	switch {
	case want.Status != 0 && resp.StatusCode != want.Status,
		want.Status == 0 && (resp.StatusCode < 200 || resp.StatusCode > 299):
		failed.Status = 1
	case errors.Is(err, io.ErrUnexpectedEOF):
		failed.Short = 1 // fewer bytes than Content-Length
	case err != nil:
		failed.Transport = 1
	case want.Bytes > 0 && n != want.Bytes,
		resp.ContentLength >= 0 && n != resp.ContentLength:
		failed.Short = 1
	case want.SHA256 != nil && string(w.hasher.Sum(nil)) != string(want.SHA256),
		want.Maphash != 0 && w.mh.Sum64() != want.Maphash,
		want.Contains != nil && !bytes.Contains(w.body, want.Contains):
		failed.Digest = 1
	}
	return failed, n, lat, ttfb
}

// drain reads a whole body into the worker's buffer (large, so a 300 KB
// tarball costs few reads: on two cores the load generator's CPU is taken
// from the server's), hashing it when the digest is checked.
func (w *worker) drain(body io.Reader, want Expect) (int64, error) {
	w.hasher.Reset()
	w.mh.Reset()
	w.body = w.body[:0]
	var n int64
	for {
		k, err := body.Read(w.buf)
		n += int64(k)
		if want.SHA256 != nil {
			w.hasher.Write(w.buf[:k])
		}
		if want.Maphash != 0 {
			w.mh.Write(w.buf[:k])
		}
		if want.Contains != nil {
			w.body = append(w.body, w.buf[:k]...)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// count records one measured request.
func (w *worker) count(failed ErrorCounts, n int64, lat, ttfb time.Duration) {
	w.bytes += uint64(max(n, 0))
	if failed.Total() == 0 {
		w.ok++
		w.hist.Record(lat)
		w.ttfb += ttfb
	}
	w.errs.Add(failed)
}
