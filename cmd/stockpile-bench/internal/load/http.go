package load

import (
	"context"
	"errors"
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

// Client returns a client for the bench's own requests: never through a
// proxy, bodies as served (no gzip decoding); fresh makes every request
// open a new connection.
func Client(timeout time.Duration, fresh bool) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy: nil, DisableCompression: true, DisableKeepAlives: fresh, MaxIdleConnsPerHost: 4,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
}

// Response is what Get saw of one answer.
type Response struct {
	Status   int
	Encoding string        // Content-Encoding
	Bytes    int64         // body bytes read
	TTFB     time.Duration // request sent to response headers
	Total    time.Duration // request sent to the last byte
}

// Get sends a GET of url with header h on c and copies the whole body to
// w (nil: discarded) through buf, or, without buf, by w's own ReadFrom
// when it has one; it times the request. An error
// before the answer leaves the status 0; an error while reading keeps it.
func Get(ctx context.Context, c *http.Client, url string, h http.Header, w io.Writer, buf []byte) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Response{}, err
	}
	for k, vs := range h {
		req.Header[k] = slices.Clone(vs)
	}
	t0 := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return Response{Total: time.Since(t0)}, err
	}
	defer resp.Body.Close()
	r := Response{Status: resp.StatusCode, Encoding: resp.Header.Get("Content-Encoding"), TTFB: time.Since(t0)}
	if rf, ok := w.(io.ReaderFrom); ok && buf == nil {
		r.Bytes, err = rf.ReadFrom(resp.Body) // straight into w's memory
	} else {
		if w == nil {
			w = io.Discard
		}
		if buf == nil {
			buf = make([]byte, 32<<10)
		}
		r.Bytes, err = io.CopyBuffer(onlyWriter{w}, resp.Body, buf)
	}
	r.Total = time.Since(t0)
	return r, err
}

// onlyWriter hides a writer's ReadFrom, so that io.CopyBuffer uses the
// buffer it is given.
type onlyWriter struct{ io.Writer }

// Fetch GETs url and returns the body of a 200 answer (at most MaxFetch
// bytes), or a *StatusError.
func Fetch(ctx context.Context, c *http.Client, url string, h http.Header) ([]byte, error) {
	b, _, err := FetchEncoded(ctx, c, url, h)
	return b, err
}

// FetchEncoded is Fetch that also returns the answer's Content-Encoding
// (the body is as sent, never decoded).
func FetchEncoded(ctx context.Context, c *http.Client, url string, h http.Header) ([]byte, string, error) {
	var body limitedBuffer
	body.max = MaxFetch
	r, err := Get(ctx, c, url, h, &body, nil)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	if r.Status != http.StatusOK {
		return nil, "", &StatusError{URL: url, Status: r.Status, Snippet: string(body.b[:min(len(body.b), 300)])}
	}
	return body.b, r.Encoding, nil
}

// FixedBuffer collects a body into its buffer, failing when it is full.
type FixedBuffer struct {
	Buf []byte
	N   int
}

func (f *FixedBuffer) Write(p []byte) (int, error) {
	if len(p) > len(f.Buf)-f.N {
		return 0, fmt.Errorf("body larger than %d bytes", len(f.Buf))
	}
	f.N += copy(f.Buf[f.N:], p)
	return len(p), nil
}

// ReadFrom reads r into the buffer, failing when it is full.
func (f *FixedBuffer) ReadFrom(r io.Reader) (int64, error) {
	start := f.N
	for {
		dst := f.Buf[f.N:]
		if len(dst) == 0 {
			var one [1]byte
			dst = one[:] // only to learn whether the body goes on
		}
		k, err := r.Read(dst)
		if k > 0 && f.N == len(f.Buf) {
			return int64(f.N - start), fmt.Errorf("body larger than %d bytes", len(f.Buf))
		}
		f.N += k
		if errors.Is(err, io.EOF) {
			return int64(f.N - start), nil
		}
		if err != nil {
			return int64(f.N - start), err
		}
	}
}

// Bytes returns what was written.
func (f *FixedBuffer) Bytes() []byte { return f.Buf[:f.N] }

// limitedBuffer keeps the first max bytes written and drops the rest, as
// io.LimitReader would have.
type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b = append(l.b, p[:min(len(p), max(l.max-len(l.b), 0))]...)
	return len(p), nil
}

// Median returns the middle value (the mean of the two middle ones for an
// even count), or zero for none.
func Median[T float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
