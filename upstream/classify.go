package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what is read of an error response.
const (
	errorBodyLimit  = 64 << 10
	errorDetailSize = 200
)

// failure builds a StatusError without status.
func (cn *Conn) failure(method string, u *url.URL, err error) *StatusError {
	return &StatusError{Conn: cn.conn.Name, Method: method, URL: u.Redacted(), err: err}
}

// transportError classifies an error from the HTTP client: the caller's
// cancellation as such, timeouts as ErrTimeout, anything else as
// ErrUnavailable, each joined with the cause (without url.Error's URL).
func (cn *Conn) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return contextError(ctx, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// contextError classifies the failure of a request whose context is done: a
// deadline is ErrTimeout, a cancellation is returned as the context's cause.
func contextError(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if cause == nil {
		cause = err
	}
	if errors.Is(cause, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, cause)
	}
	return cause
}

// statusError reads up to 64 KiB of an unwanted response's body, closes it,
// and describes it.
func (cn *Conn) statusError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
	resp.Body.Close()
	e := &StatusError{
		Conn:       cn.conn.Name,
		Method:     resp.Request.Method,
		URL:        resp.Request.URL.Redacted(),
		StatusCode: resp.StatusCode,
		Detail:     cn.scrub(detail(data)),
		err:        classifyStatus(resp.StatusCode),
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		e.RetryAfter, _ = retryAfter(resp.Header, time.Now())
	}
	return e
}

// detail turns an error body into one short printable line.
func detail(data []byte) string {
	if !utf8.Valid(data) {
		return ""
	}
	s := strings.Join(strings.FieldsFunc(string(data), func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r)
	}), " ")
	if utf8.RuneCountInString(s) > errorDetailSize {
		s = string([]rune(s)[:errorDetailSize]) + "…"
	}
	return s
}

// scrub removes the connection's secrets from s, in case an upstream
// echoes them.
func (cn *Conn) scrub(s string) string {
	for _, secret := range []string{cn.opts.Password, cn.opts.Token, strings.TrimPrefix(cn.authHdr, "Basic ")} {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "xxxxx")
		}
	}
	return s
}
