package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Backoff bounds between retries when the upstream gives no Retry-After.
const (
	retryWaitMin = 100 * time.Millisecond
	retryWaitMax = 2 * time.Second
)

// newRetryClient wraps the connection's http.Client with retryablehttp,
// retrying up to retries times.
func (cn *Conn) newRetryClient(retries int) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient:   cn.http,
		Logger:       slogAdapter{log: cn.log},
		RetryWaitMin: retryWaitMin,
		RetryWaitMax: retryWaitMax,
		RetryMax:     retries,
		CheckRetry:   cn.checkRetry,
		Backoff:      backoff,
		// Hand back the last response or error as it is, for classify.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
}

// checkRetry decides whether a request is tried again: on network errors
// (except certificate problems and redirect loops), on 429 and 5xx except
// 501, never on other statuses, and never when the upstream's Retry-After
// exceeds MaxRetryWait (the response is then returned for the caller to
// fail at once). A done context stops retrying with its error.
func (cn *Conn) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, context.Cause(ctx)
	}
	if err != nil {
		return retryableError(err), nil
	}
	code := resp.StatusCode
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if d, ok := retryAfter(resp.Header, time.Now()); ok && d > cn.opts.MaxRetryWait {
			return false, nil
		}
		return true, nil
	case code == http.StatusNotImplemented:
		return false, nil
	case code >= 500:
		return true, nil
	}
	return false, nil
}

// retryableError reports whether a transport error is worth another try.
func retryableError(err error) bool {
	var (
		cve *tls.CertificateVerificationError
		uae x509.UnknownAuthorityError
		he  x509.HostnameError
		cie x509.CertificateInvalidError
	)
	switch {
	case isTooManyRedirects(err), isRefused(err), errors.As(err, &cve), errors.As(err, &uae),
		errors.As(err, &he), errors.As(err, &cie):
		return false
	case errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// backoff waits what the upstream asked for in Retry-After on 429 and 503
// (checkRetry has already refused waits over MaxRetryWait), otherwise an
// exponentially growing, jittered delay: min·2^attempt capped at max, of
// which a random half is kept.
func backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header, time.Now()); ok {
			return d
		}
	}
	d := max
	if attempt < 30 {
		if e := min << attempt; e > 0 && e < max {
			d = e
		}
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date,
// relative to now. A date in the past gives 0. ok is false when the header is
// absent or malformed.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(1<<62/time.Second) {
			secs = int64(1 << 62 / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
