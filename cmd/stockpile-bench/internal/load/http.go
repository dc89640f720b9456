package load

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
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
// bytes), or a *StatusError.
func Fetch(ctx context.Context, c *http.Client, url string, h http.Header) ([]byte, error) {
	b, _, err := FetchEncoded(ctx, c, url, h)
	return b, err
}

// FetchEncoded is Fetch that also returns the answer's Content-Encoding
// (the body is as sent, never decoded).
func FetchEncoded(ctx context.Context, c *http.Client, url string, h http.Header) ([]byte, string, error) {
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
