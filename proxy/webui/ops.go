package webui

import (
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	dto "github.com/prometheus/client_model/go"

	"github.com/stockpile-proxy/stockpile/proxy/access"
)

// Gatherer reads the server's metrics, the same numbers /-/metrics exports;
// *prometheus.Registry implements it.
type Gatherer interface {
	Gather() ([]*dto.MetricFamily, error)
}

// RecentError is a request answered with a 5xx: the detail is in the log
// under its request id.
type RecentError struct {
	Time      time.Time
	RequestID string
	Method    string
	Path      string
	Status    int
	Message   string
}

// Errors lists the recent failed requests, newest first.
type Errors interface {
	Recent() []RecentError
}

// actionMetrics is what seeing the operations view needs: a Stockpile
// action (the metrics are the whole server's, so it is decided on "*" by
// identity policies alone, like sts:GetServiceBearerToken).
const actionMetrics = "stockpile:GetMetrics"

// cacheRow is one format's cache outcomes.
type cacheRow struct {
	Format                                  string
	Hit, Miss, Stale, Revalidated, Negative float64
	Ratio                                   string // served without the upstream, of all lookups
}

// connRow is one external connection's requests and latency.
type connRow struct {
	Connection    string
	OK, Failed    float64
	Results       string // failures by result
	Health        string // "ok", "degraded", "failing"
	MeanMS, P95MS string
}

// formatRow is one format's requests.
type formatRow struct {
	Format                      string
	Total, ClientErr, ServerErr float64
}

type opsData struct {
	Requests    []formatRow
	Cache       []cacheRow
	Connections []connRow
	Denials     []struct {
		Action string
		N      float64
	}
	ResidentMiB string
	Errors      []RecentError
	Storage     []storageRow
}

// storageRow is one domain's stored blobs, as the store lists them (each
// blob once however many repositories refer to it).
type storageRow struct {
	Domain string
	Blobs  int
	Bytes  int64
}

func (h *Handler) mayOps(c echo.Context, a ask) bool {
	v := visitorOf(c)
	if !v.Open && v.ID == nil {
		return false
	}
	return h.may(c, actionMetrics, access.Target{Resource: "*", SkipResourcePolicy: true}, a)
}

func (h *Handler) opsPage(c echo.Context) error {
	if h.o.Metrics == nil || !h.mayOps(c, visit) {
		return h.refuse(c, http.StatusForbidden, "You may not see the operations view ("+actionMetrics+").")
	}
	fams, err := h.o.Metrics.Gather()
	if err != nil {
		return err
	}
	by := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		by[f.GetName()] = f
	}
	d := opsData{Requests: requestRows(by["stockpile_requests_total"]), Cache: cacheRows(by["stockpile_cache_total"]),
		Connections: connRows(by["stockpile_upstream_requests_total"], by["stockpile_upstream_duration_seconds"])}
	if f := by["stockpile_access_denied_total"]; f != nil {
		for _, m := range f.Metric {
			d.Denials = append(d.Denials, struct {
				Action string
				N      float64
			}{label(m, "action"), m.GetCounter().GetValue()})
		}
	}
	if h.o.Errors != nil {
		d.Errors = h.o.Errors.Recent()
	}
	for _, dom := range h.o.Catalog.Domains() {
		ix, err := h.domainIndex(c.Request().Context(), dom.Name)
		if err != nil {
			return err
		}
		if ix.blobsKnown {
			d.Storage = append(d.Storage, storageRow{Domain: dom.Name, Blobs: ix.blobs, Bytes: ix.blobBytes})
		}
	}
	if f := by["process_resident_memory_bytes"]; f != nil && len(f.Metric) > 0 {
		d.ResidentMiB = fmtFloat(f.Metric[0].GetGauge().GetValue()/(1<<20), 1)
	}
	return h.render(c, http.StatusOK, "ops", "Operations", d, crumb{"operations", ""})
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func requestRows(f *dto.MetricFamily) []formatRow {
	rows := rowsBy[formatRow]{rows: map[string]*formatRow{}, newRow: func(name string) *formatRow { return &formatRow{Format: name} }}
	for _, m := range f.GetMetric() {
		r, n := rows.get(label(m, "format")), m.GetCounter().GetValue()
		r.Total += n
		switch code := label(m, "code"); {
		case strings.HasPrefix(code, "4"):
			r.ClientErr += n
		case strings.HasPrefix(code, "5"):
			r.ServerErr += n
		}
	}
	return sorted(rows.rows, func(r *formatRow) string { return r.Format })
}

func cacheRows(f *dto.MetricFamily) []cacheRow {
	rows := rowsBy[cacheRow]{rows: map[string]*cacheRow{}, newRow: func(name string) *cacheRow { return &cacheRow{Format: name} }}
	for _, m := range f.GetMetric() {
		r, n := rows.get(label(m, "format")), m.GetCounter().GetValue()
		switch label(m, "outcome") {
		case "hit":
			r.Hit += n
		case "miss":
			r.Miss += n
		case "stale":
			r.Stale += n
		case "revalidated":
			r.Revalidated += n
		case "negative":
			r.Negative += n
		}
	}
	out := sorted(rows.rows, func(r *cacheRow) string { return r.Format })
	for i := range out {
		r := &out[i]
		served := r.Hit + r.Stale + r.Revalidated + r.Negative
		if total := served + r.Miss; total > 0 {
			r.Ratio = fmtFloat(100*served/total, 1) + " %"
		}
	}
	return out
}

// connRows joins the requests to each connection with their latency
// histogram: the mean, and the 95th percentile as the upper bound of the
// bucket it falls in.
func connRows(reqs, lat *dto.MetricFamily) []connRow {
	rows := rowsBy[connRow]{rows: map[string]*connRow{}, newRow: func(name string) *connRow { return &connRow{Connection: name} }}
	get := rows.get
	fails := map[string][]string{}
	if reqs != nil {
		for _, m := range reqs.Metric {
			r, n := get(label(m, "connection")), m.GetCounter().GetValue()
			if res := label(m, "result"); res == "ok" || res == "not_found" {
				r.OK += n
			} else {
				r.Failed += n
				fails[r.Connection] = append(fails[r.Connection], res+" "+fmtFloat(n, 0))
			}
		}
	}
	if lat != nil {
		for _, m := range lat.Metric {
			r, hg := get(label(m, "connection")), m.GetHistogram()
			if hg.GetSampleCount() == 0 {
				continue
			}
			r.MeanMS = fmtFloat(1000*hg.GetSampleSum()/float64(hg.GetSampleCount()), 1)
			for _, b := range hg.GetBucket() {
				if float64(b.GetCumulativeCount()) >= 0.95*float64(hg.GetSampleCount()) {
					r.P95MS = "≤ " + fmtFloat(1000*b.GetUpperBound(), 0)
					break
				}
			}
		}
	}
	out := sorted(rows.rows, func(r *connRow) string { return r.Connection })
	for i := range out {
		r := &out[i]
		sort.Strings(fails[r.Connection])
		r.Results = strings.Join(fails[r.Connection], ", ")
		switch total := r.OK + r.Failed; {
		case total == 0 || r.Failed == 0:
			r.Health = "ok"
		case r.Failed/total < 0.05:
			r.Health = "degraded"
		default:
			r.Health = "failing"
		}
	}
	return out
}

// rowsBy keeps one row of a table per label value, made on first use.
type rowsBy[T any] struct {
	rows   map[string]*T
	newRow func(name string) *T
}

func (b rowsBy[T]) get(name string) *T {
	r := b.rows[name]
	if r == nil {
		r = b.newRow(name)
		b.rows[name] = r
	}
	return r
}

func sorted[T any](m map[string]*T, key func(*T) string) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return key(&out[i]) < key(&out[j]) })
	return out
}

func fmtFloat(f float64, prec int) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "—"
	}
	return strconv.FormatFloat(f, 'f', prec, 64)
}
