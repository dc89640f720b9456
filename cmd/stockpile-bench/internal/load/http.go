package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// MaxFetch bounds what Fetch reads.
const MaxFetch = 256 << 20

// StatusError is a GET answered with a status other than the one wanted.
type StatusError struct {
	URL     string
	Status  int
	Snippet string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: %d %s: %s", e.URL, e.Status, http.StatusText(e.Status), e.Snippet)
}

// Client returns a client for the bench's requests: never through a proxy,
// bodies as served (no gzip decoding); fresh makes every request open a new
// connection.
func Client(timeout time.Duration, fresh bool) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy: nil, DisableCompression: true, DisableKeepAlives: fresh, MaxIdleConnsPerHost: 4,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
}

// newRequest makes a GET of url with a copy of h.
func newRequest(ctx context.Context, url string, h http.Header) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil && h != nil {
		req.Header = h.Clone()
	}
	return req, err
}

// Fetch GETs url and returns the body of a 200 answer (at most MaxFetch
// bytes, as sent, never decoded) and its Content-Encoding, or a
// *StatusError.
func Fetch(ctx context.Context, c *http.Client, url string, h http.Header) ([]byte, string, error) {
	req, err := newRequest(ctx, url, h)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxFetch))
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", &StatusError{URL: url, Status: resp.StatusCode, Snippet: string(body[:min(len(body), 300)])}
	}
	return body, resp.Header.Get("Content-Encoding"), nil
}

// Median returns the middle value (the mean of the two middle ones for an
// even count), or zero for none.
func Median[T float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	return (s[(n-1)/2] + s[n/2]) / 2
}

// ErrRemote is returned for a target that is not on loopback when no
// --target allowed it.
var ErrRemote = errors.New("not a loopback address (only an explicit --target may be remote)")

// CheckLoopback refuses URLs that are not absolute http(s) ones, and those
// whose host is not loopback unless allowRemote.
func CheckLoopback(rawURL string, allowRemote bool) error {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return fmt.Errorf("target %q: %w", rawURL, err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("target %q: want an absolute http(s) URL", rawURL)
	case !allowRemote && !IsLoopbackHost(u.Hostname()):
		return fmt.Errorf("target %q: %w", rawURL, ErrRemote)
	}
	return nil
}

// IsLoopbackHost reports whether host (no port) names the loopback
// interface without asking a resolver.
func IsLoopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return strings.EqualFold(host, "localhost") || ip != nil && ip.IsLoopback()
}

// FreePort asks the kernel for a free port on 127.0.0.1. The port
// may be taken by someone else before it is used: callers retry.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
