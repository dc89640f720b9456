package proxy

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
)

// HTTPConfig bounds what a client connection may cost the server: slow or
// oversized request headers, idle keep-alive connections, and request bodies
// that trickle in. Responses have no time limit: a download to a slow client
// takes as long as it needs while the client keeps reading.
type HTTPConfig struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// MaxHeaderBytes bounds a request's headers (net/http answers 431).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MinBodyRate is the slowest a request body may arrive, in bytes per
	// second, averaged over each MinBodyRateWindow; a slower body is cut.
	// 0 disables the check.
	MinBodyRate int64 `yaml:"min_body_rate"`
	// MinBodyRateWindow is the period over which MinBodyRate is measured.
	MinBodyRateWindow time.Duration `yaml:"min_body_rate_window"`
}

// Defaults of HTTPConfig.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMinBodyRate       = 1024
	DefaultMinBodyRateWindow = 30 * time.Second
)

func defaultHTTPConfig() HTTPConfig {
	return HTTPConfig{
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		IdleTimeout:       DefaultIdleTimeout,
		MinBodyRate:       DefaultMinBodyRate,
		MinBodyRateWindow: DefaultMinBodyRateWindow,
	}
}

// validate reports bad settings through add.
func (h HTTPConfig) validate(add func(path, format string, args ...any)) {
	if h.ReadHeaderTimeout <= 0 {
		add("http.read_header_timeout", "http.read_header_timeout must be positive")
	}
	if h.MaxHeaderBytes < 4<<10 {
		add("http.max_header_bytes", "http.max_header_bytes must be at least 4096")
	}
	if h.IdleTimeout <= 0 {
		add("http.idle_timeout", "http.idle_timeout must be positive")
	}
	if h.MinBodyRate < 0 {
		add("http.min_body_rate", "http.min_body_rate must not be negative")
	}
	if h.MinBodyRate > 0 && h.MinBodyRateWindow < 100*time.Millisecond {
		add("http.min_body_rate_window", "http.min_body_rate_window must be at least 100ms")
	}
}

// newHTTPServer is the net/http server for h. It sets no ReadTimeout or
// WriteTimeout: those would bound whole uploads and downloads, whatever
// their progress; limitBodies bounds slow uploads instead.
func newHTTPServer(cfg HTTPConfig, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           limitBodies(cfg, time.Now, h),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// errSlowBody is the error a request body's Read returns once the body fell
// below the minimum rate; handlers see it wrapped.
var errSlowBody = errors.New("the request body arrived slower than the server's minimum rate")

// limitBodies enforces cfg.MinBodyRate on request bodies through the
// connection's read deadline: each window must bring rate×window bytes,
// else the pending read fails and the connection is closed.
func limitBodies(cfg HTTPConfig, now func() time.Time, next http.Handler) http.Handler {
	if cfg.MinBodyRate <= 0 {
		return next
	}
	quota := max(int64(float64(cfg.MinBodyRate)*cfg.MinBodyRateWindow.Seconds()), 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &rateBody{rc: r.Body, dl: http.NewResponseController(w), now: now,
				window: cfg.MinBodyRateWindow, quota: quota}
		}
		next.ServeHTTP(w, r)
	})
}

// readDeadliner is the part of http.ResponseController rateBody uses.
type readDeadliner interface{ SetReadDeadline(time.Time) error }

// rateBody is a request body that must bring quota bytes in every window.
type rateBody struct {
	rc     io.ReadCloser
	dl     readDeadliner
	now    func() time.Time
	window time.Duration
	quota  int64
	got    int64 // bytes in the current window
	armed  bool  // a deadline is set
	done   bool  // the body ended or failed: no deadline any more
	failed bool  // cut for being slow
}

// Read reads from the body, moving the deadline on each time a window's
// quota is met, and clearing it when the body ends (so that net/http's
// background read after the body does not trip it).
func (b *rateBody) Read(p []byte) (int, error) {
	if b.failed {
		return 0, errSlowBody
	}
	if !b.armed && !b.done {
		b.arm()
	}
	n, err := b.rc.Read(p)
	b.got += int64(n)
	switch {
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		b.failed, b.done = true, true
		return n, fmt.Errorf("%w: %w", echo.ErrRequestTimeout, errSlowBody)
	case err != nil:
		b.disarm()
	case b.got >= b.quota:
		b.arm()
	}
	return n, err
}

// arm starts a new window.
func (b *rateBody) arm() {
	b.got, b.armed = 0, true
	_ = b.dl.SetReadDeadline(b.now().Add(b.window))
}

// disarm removes the deadline for good.
func (b *rateBody) disarm() {
	if !b.done {
		b.done = true
		_ = b.dl.SetReadDeadline(time.Time{})
	}
}

// Close closes the body. A deadline still set stays: net/http may read
// what the handler left of the body, and that must not be slow either.
func (b *rateBody) Close() error { return b.rc.Close() }
