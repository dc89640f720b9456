package proxy

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stockpile-proxy/stockpile/upstream"
)

// metrics are the server's Prometheus collectors, on a registry of its own.
type metrics struct {
	reg             *prometheus.Registry
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	bytes           *prometheus.CounterVec
	cache           *prometheus.CounterVec
	upstream        *prometheus.CounterVec
	upstreamLatency *prometheus.HistogramVec
	denials         *prometheus.CounterVec
	held            *prometheus.CounterVec
	refused         *prometheus.CounterVec

	// Children bound once per label values, for the per-request paths.
	perRequest *boundSet[requestKey, prometheus.Counter]
	perFormat  *boundSet[string, formatMetrics]
	perCache   *boundSet[[2]string, prometheus.Counter]
}

// requestKey is the label values of stockpile_requests_total.
type requestKey struct {
	format string
	code   int
}

// formatMetrics are a format's duration and bytes children.
type formatMetrics struct {
	duration prometheus.Observer
	bytes    prometheus.Counter
}

// counterVec is a family of counters named name, explained by help, with
// labels.
func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: counterVec("stockpile_requests_total",
			"Requests answered, by format (controlplane, ops) and status code.",
			"format", "code"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stockpile_request_duration_seconds", Help: "Time to answer a request.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"format"}),
		bytes: counterVec("stockpile_response_bytes_total",
			"Bytes served, by format.",
			"format"),
		cache: counterVec("stockpile_cache_total",
			"Cache outcomes of metadata and artifact requests (hit, miss, stale, revalidated, negative).",
			"format", "outcome"),
		upstream: counterVec("stockpile_upstream_requests_total",
			"Requests to external connections, by result (ok, not_found, unavailable, timeout, unauthorized, error).",
			"connection", "result"),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stockpile_upstream_duration_seconds", Help: "Time until an external connection answered (headers).",
			Buckets: prometheus.DefBuckets,
		}, []string{"connection"}),
		denials: counterVec("stockpile_access_denied_total",
			"Requests refused by the permission policies, by action (codeartifact:ReadFromRepository, ...).",
			"action"),
		held: counterVec("stockpile_firewall_held_total",
			"Versions the release-age cooldown left out of metadata while it was built, by format and mode (hide, deny).",
			"format", "mode"),
		refused: counterVec("stockpile_firewall_refused_total",
			"File requests the supply-chain firewall refused, by format and reason (cooldown, malicious, blocklist).",
			"format", "reason"),
	}
	m.reg.MustRegister(m.requests, m.duration, m.bytes, m.cache, m.upstream, m.upstreamLatency, m.denials, m.held, m.refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.perRequest = newBoundSet(func(k requestKey) prometheus.Counter {
		return m.requests.WithLabelValues(k.format, strconv.Itoa(k.code))
	})
	m.perFormat = newBoundSet(func(format string) formatMetrics {
		return formatMetrics{m.duration.WithLabelValues(format), m.bytes.WithLabelValues(format)}
	})
	m.perCache = newBoundSet(func(k [2]string) prometheus.Counter { return m.cache.WithLabelValues(k[0], k[1]) })
	return m
}

func (m *metrics) observeRequest(format string, code int, d time.Duration, n int64) {
	m.perRequest.get(requestKey{format, code}).Inc()
	f := m.perFormat.get(format)
	f.duration.Observe(d.Seconds())
	f.bytes.Add(float64(n))
}

// denied counts a request refused by the policies.
func (m *metrics) denied(action string) { m.denials.WithLabelValues(action).Inc() }

// Cache implements resolver.Observer.
func (m *metrics) Cache(format, outcome string) { m.perCache.get([2]string{format, outcome}).Inc() }

// Held implements resolver.FirewallObserver.
func (m *metrics) Held(format, mode string) { m.held.WithLabelValues(format, mode).Inc() }

// Refused implements resolver.FirewallObserver.
func (m *metrics) Refused(format, reason string) { m.refused.WithLabelValues(format, reason).Inc() }

// Upstream implements resolver.Observer.
func (m *metrics) Upstream(conn string, d time.Duration, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, upstream.ErrNotFound):
		result = "not_found"
	case errors.Is(err, upstream.ErrTimeout):
		result = "timeout"
	case errors.Is(err, upstream.ErrUnauthorized):
		result = "unauthorized"
	case errors.Is(err, upstream.ErrUnavailable):
		result = "unavailable"
	default:
		result = "error"
	}
	m.upstream.WithLabelValues(conn, result).Inc()
	m.upstreamLatency.WithLabelValues(conn).Observe(d.Seconds())
}

// metricsAuth requires metrics_auth as a Bearer token on /-/metrics when it
// is set (RFC 6750); without it the metrics are open, like the rest of an
// open-mode server.
func (s *Server) metricsAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		want := s.cfg.MetricsAuth
		if want == "" {
			return next(c)
		}
		got, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "the metrics need the metrics_auth token (Authorization: Bearer)")
		}
		return next(c)
	}
}
