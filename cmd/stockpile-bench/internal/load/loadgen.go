// Package load is the bench's one load loop: keep-alive connections asking
// one URL, or a random mix, for a duration or a count, every answer
// checked, latencies in an HDR-style histogram; and the GETs the scenarios
// make by themselves.
package load

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/rand/v2"
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
	// All connections' body buffers together (the cold burst has up to
	// 1000), each between 16 KB and 256 KB: a 300 KB tarball takes a few
	// reads, and on two cores the load generator's CPU is the server's.
	readBufferBudget = 16 << 20
)

// Request is what each connection of a load run asks (a GET), over and
// over, and what the answer must look like.
type Request struct {
	URL    string      `json:"url"`
	Header http.Header `json:"-"` // holds the token
	// AllowRemote lets the run go to a host that is not loopback; only an
	// explicit --target sets it.
	AllowRemote bool   `json:"-"`
	Want        Expect `json:"-"`
}

// Expect is what a response must look like to count as a success.
type Expect struct {
	Status int   // exact status; 0 accepts any 2xx
	Bytes  int64 // exact body length; 0 only checks the body against Content-Length
	// Maphash, when set, is the body's sum under NewMaphash (the cold
	// bursts, big-concurrent): a digest cheap enough for gigabytes, where
	// SHA-256 would take the measured server's cores.
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
	Warmup        time.Duration `json:"warmup_ns"`      // unmeasured time before the measurement
	Timeout       time.Duration `json:"timeout_ns"`     // per request; 30s when zero
	Seed          uint64        `json:"seed,omitempty"` // seeds the connections' choice among Run's requests
	// Pick, when set, chooses each request of connection conn instead of
	// Run's random choice (soak's installs: a packument, then the tarball
	// it names).
	Pick func(conn int, rng *rand.Rand) Request `json:"-"`
	// MaxDuration, when set, replaces MaxDuration as the bound of Duration
	// (soak's own, longer bound).
	MaxDuration time.Duration `json:"-"`
	// Observers are told when the measurement starts and ends (the process
	// samplers take CPU time over that window only).
	Observers []Observer `json:"-"`
}

// Observer watches the measured window of a load run.
type Observer interface {
	MeasureStart()
	MeasureEnd()
}

// Validate checks the bounds of c.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Connections >= 1 && c.Connections <= MaxConnections, "connections %d: must be between 1 and %d", c.Connections, MaxConnections)
	check(c.Requests >= 0 && c.Requests <= maxRequests, "requests %d: must be between 0 and %d", c.Requests, maxRequests)
	check(c.PerConnection >= 0 && (c.PerConnection == 0 || c.Requests > 0), "per-connection %d: needs a request count", c.PerConnection)
	limit := cmp.Or(c.MaxDuration, MaxDuration)
	check(c.Requests > 0 || c.Duration > 0 && c.Duration <= limit, "duration %s: must be above 0 and at most %s", c.Duration, limit)
	check(c.Warmup >= 0 && c.Warmup <= MaxWarmup, "warm-up %s: must be between 0 and %s", c.Warmup, MaxWarmup)
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

// Add adds o's counts to e's.
func (e *ErrorCounts) Add(o ErrorCounts) {
	e.Status, e.Short, e.Digest, e.Transport = e.Status+o.Status, e.Short+o.Short, e.Digest+o.Digest, e.Transport+o.Transport
}

// RequestsPerSecond and BytesPerSecond return successes and body bytes per
// second of measured time.
func (r *Result) RequestsPerSecond() float64 { return r.perSecond(r.OK) }
func (r *Result) BytesPerSecond() float64    { return r.perSecond(r.Bytes) }

func (r *Result) perSecond(n uint64) float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(n) / r.Elapsed.Seconds()
}

// Run runs cfg's connections until the measured duration or request count
// is reached (or ctx ends), and returns what was measured. Each request is
// one of reqs, picked at random (seeded by cfg.Seed and the connection), or
// cfg.Pick's choice. All connections start together, after each has been
// created. Requests that start during the warm-up are not measured; nor are
// those still in flight when the measured duration ends, which are waited
// for but not counted.
func Run(ctx context.Context, cfg Config, reqs ...Request) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if cfg.Pick == nil && len(reqs) == 0 {
		return nil, errors.New("load: no request")
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, 30*time.Second)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{cfg: cfg, reqs: reqs}
	for _, req := range reqs {
		proto, err := prepare(ctx, req)
		if err != nil {
			return nil, err
		}
		r.protos = append(r.protos, proto)
	}
	start := make(chan struct{})
	workers := make([]*worker, cfg.Connections)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{run: r, conn: i, client: Client(cfg.Timeout, false), mh: NewMaphash(),
			rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))),
			buf: make([]byte, min(max(readBufferBudget/cfg.Connections, 16<<10), 256<<10))}
		defer w.client.CloseIdleConnections()
		workers[i] = w
		wg.Go(func() {
			<-start
			w.loop(ctx)
		})
	}
	r.tickets.Store(int64(cfg.Requests)) // read only in count mode
	r.start = time.Now().Add(cfg.Warmup)
	r.end = r.start.Add(cfg.Duration)
	if cfg.Requests > 0 {
		r.end = r.start.Add(MaxDuration)
	}
	close(start)
	select { // until the warm-up ends
	case <-time.After(time.Until(r.start)):
	case <-ctx.Done():
	}
	for _, o := range cfg.Observers {
		o.MeasureStart()
	}
	wg.Wait()
	for _, o := range cfg.Observers {
		o.MeasureEnd()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return collect(cfg, r.start, workers), nil
}

// collect merges the workers' counts into the run's Result.
func collect(cfg Config, start time.Time, workers []*worker) *Result {
	res, last := &Result{Latency: &Histogram{}}, int64(0)
	for _, w := range workers {
		last = max(last, w.last)
		res.OK += w.ok
		res.Errors.Add(w.errs)
		res.Bytes += w.bytes
		res.Latency.Merge(&w.hist)
		res.TTFB += w.ttfb
	}
	res.TTFB /= time.Duration(max(res.OK, 1))
	res.Requests = res.OK + res.Errors.Total()
	if last > 0 {
		res.Elapsed = time.Unix(0, last).Sub(start)
	}
	res.TimeCapped = cfg.Requests > 0 && res.Requests < uint64(cfg.Requests)
	return res
}

// prepare builds the http.Request of req, only to loopback unless req
// allows otherwise.
func prepare(ctx context.Context, req Request) (*http.Request, error) {
	if err := CheckLoopback(req.URL, req.AllowRemote); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return newRequest(ctx, req.URL, req.Header) // a URL CheckLoopback parsed
}

// run is what a run's connections share; its times are written before
// they start.
type run struct {
	cfg        Config
	reqs       []Request
	protos     []*http.Request // reqs' http.Requests, built once and cloned
	start, end time.Time       // end: start + Duration, or + MaxDuration for a count
	tickets    atomic.Int64    // remaining measured requests in count mode
}

// worker is one connection of a load run: its own keep-alive client and its
// own counters, merged when the run ends.
type worker struct {
	*run
	client *http.Client
	conn   int
	rng    *rand.Rand
	mh     *maphash.Hash // for a maphash to check
	body   bytes.Buffer  // the whole body, when an Expect looks into it
	want   Expect        // of the request being read
	buf    []byte

	sent  int // measured requests sent
	hist  Histogram
	ok    uint64
	bytes uint64
	errs  ErrorCounts
	ttfb  time.Duration // summed over the successes
	last  int64         // unix nanos of the last measured completion
}

// loop sends requests until the window or the count is done, or ctx ends.
func (w *worker) loop(ctx context.Context) {
	for ctx.Err() == nil {
		now := time.Now()
		measured := !now.Before(w.start)
		if measured {
			if !now.Before(w.end) || w.cfg.Requests > 0 &&
				(w.cfg.PerConnection > 0 && w.sent >= w.cfg.PerConnection || w.tickets.Add(-1) < 0) {
				return
			}
			w.sent++
		}
		failed, n, lat, ttfb := w.do(ctx)
		if ctx.Err() != nil && failed.Transport > 0 {
			return // the run was cancelled, not failed
		}
		if !measured {
			continue
		}
		w.bytes += uint64(n)
		if failed.Total() == 0 {
			w.ok++
			w.hist.Record(lat)
			w.ttfb += ttfb
		}
		w.errs.Add(failed)
		w.last = max(w.last, now.Add(lat).UnixNano())
	}
}

// do sends the next request and reads the whole answer through the
// worker's buffer into whatever its Expect checks; it returns how it failed
// (nothing counted: a success), the body's length, the latency and the
// time to headers.
func (w *worker) do(ctx context.Context) (failed ErrorCounts, n int64, lat, ttfb time.Duration) {
	req, want, err := w.next(ctx)
	if err != nil {
		return ErrorCounts{Transport: 1}, 0, 0, 0
	}
	w.want = want
	w.mh.Reset()
	w.body.Reset()
	t0 := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		return ErrorCounts{Transport: 1}, 0, time.Since(t0), 0
	}
	ttfb = time.Since(t0)
	n, err = io.CopyBuffer(w, resp.Body, w.buf) // w has no ReadFrom: w.buf is used
	resp.Body.Close()
	lat = time.Since(t0)
	switch {
	case want.Status != 0 && resp.StatusCode != want.Status,
		want.Status == 0 && (resp.StatusCode < 200 || resp.StatusCode > 299):
		failed.Status = 1
	case errors.Is(err, io.ErrUnexpectedEOF):
		failed.Short = 1 // fewer bytes than Content-Length
	case err != nil:
		failed.Transport = 1
	case want.Bytes > 0 && n != want.Bytes, resp.ContentLength >= 0 && n != resp.ContentLength:
		failed.Short = 1
	case want.Maphash != 0 && w.mh.Sum64() != want.Maphash,
		want.Contains != nil && !bytes.Contains(w.body.Bytes(), want.Contains):
		failed.Digest = 1
	}
	return failed, n, lat, ttfb
}

// next gives the worker's next request and what its answer must look like:
// Pick's choice, or one of Run's requests at random.
func (w *worker) next(ctx context.Context) (*http.Request, Expect, error) {
	if w.cfg.Pick != nil {
		r := w.cfg.Pick(w.conn, w.rng)
		req, err := prepare(ctx, r)
		return req, r.Want, err
	}
	i := w.rng.IntN(len(w.protos))
	return w.protos[i].Clone(ctx), w.reqs[i].Want, nil
}

// Write feeds the body being read to whatever its Expect checks.
func (w *worker) Write(p []byte) (int, error) {
	if w.want.Maphash != 0 {
		w.mh.Write(p)
	}
	if w.want.Contains != nil {
		w.body.Write(p)
	}
	return len(p), nil
}
