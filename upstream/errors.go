package upstream

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// sentinel is an error value with an optional parent, so that a more
// specific sentinel (ErrTimeout) also matches a broader one (ErrUnavailable)
// under errors.Is.
type sentinel struct {
	msg    string
	parent error
}

func (s *sentinel) Error() string { return s.msg }
func (s *sentinel) Unwrap() error { return s.parent }

// Errors of this package. Test them with errors.Is; every error returned by a
// Conn wraps exactly one of them (or the caller's context.Canceled).
var (
	// ErrAbsent is the one "not found" of the format seam: what was asked
	// for does not exist. formats.ErrNotFound is this value, and ErrNotFound
	// matches it, so a format tests one sentinel whether the absence was
	// answered by an upstream or found by the format itself.
	ErrAbsent = errors.New("not found")
	// ErrNotFound: the upstream answered 404 or 410. It also matches
	// ErrAbsent.
	ErrNotFound error = &sentinel{msg: "not found upstream", parent: ErrAbsent}
	// ErrUnauthorized: the upstream answered 401 or 403.
	ErrUnauthorized error = &sentinel{msg: "unauthorized by upstream"}
	// ErrUnavailable: the upstream could not answer usefully: 5xx, 429,
	// network errors, too many redirects, offline mode, retries exhausted.
	ErrUnavailable error = &sentinel{msg: "upstream unavailable"}
	// ErrTimeout: a dial, response-header or idle timeout, the caller's
	// deadline, or an upstream 504. It also matches ErrUnavailable.
	ErrTimeout error = &sentinel{msg: "upstream timed out", parent: ErrUnavailable}
	// ErrNotConfigured: the connection has no URL.
	ErrNotConfigured error = &sentinel{msg: "external connection not configured"}
)

// StatusError describes a failed request to an upstream: either an answer
// with an unwanted status (StatusCode set) or no answer at all (StatusCode 0,
// a network error, timeout or offline mode). Unwrap yields the sentinel that
// classifies it (and, for network errors, the cause), so errors.Is works on
// it. URL is redacted and Detail is scrubbed of the connection's secrets.
type StatusError struct {
	Conn       string        // external connection name, "public:pypi"
	Method     string        // HTTP method
	URL        string        // request URL, redacted
	StatusCode int           // HTTP status, 0 when no response was received
	RetryAfter time.Duration // the upstream's Retry-After, 0 when absent
	Detail     string        // start of the error body, at most ~200 characters
	err        error
}

// Error formats e as "upstream public:pypi: GET https://host/path: 503
// Service Unavailable[: detail]" or, without a status, "upstream
// public:pypi: GET https://host/path: <cause>".
func (e *StatusError) Error() string {
	s := "upstream " + e.Conn + ": " + e.Method + " " + e.URL + ": "
	if e.StatusCode == 0 {
		if e.err == nil {
			return s + "failed"
		}
		return s + e.err.Error()
	}
	s += strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if e.RetryAfter > 0 {
		s += " (retry after " + e.RetryAfter.String() + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the classifying error: a sentinel of this package, possibly
// joined with the underlying cause; nil for statuses no sentinel covers
// (other 4xx, unexpected 2xx or 3xx).
func (e *StatusError) Unwrap() error { return e.err }

// classifyStatus returns the sentinel for an HTTP status, or nil.
func classifyStatus(code int) error {
	switch {
	case code == http.StatusNotFound || code == http.StatusGone:
		return ErrNotFound
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return ErrUnauthorized
	case code == http.StatusGatewayTimeout:
		return ErrTimeout
	case code == http.StatusTooManyRequests || code >= 500:
		return ErrUnavailable
	}
	return nil
}

// errOffline is joined to ErrUnavailable when the connection is offline.
var errOffline = errors.New("offline")

// notConfiguredError is returned by Client.Conn for a connection without URL.
type notConfiguredError struct{ conn Connection }

func (e *notConfiguredError) Error() string {
	return fmt.Sprintf("external connection %q has no URL: set external_connections.%q.url in the config file or %s",
		e.conn.Name, e.conn.Name, e.conn.EnvVar())
}

func (e *notConfiguredError) Unwrap() error { return ErrNotConfigured }

// readError is returned by a response body's Read when the transfer fails.
type readError struct {
	conn, url string
	err       error // sentinel and cause
}

func (e *readError) Error() string {
	return "upstream " + e.conn + ": reading " + e.url + ": " + e.err.Error()
}

func (e *readError) Unwrap() error { return e.err }

// errTooManyRedirects is wrapped by the redirect policy's error.
type tooManyRedirects struct{ n int }

func (e tooManyRedirects) Error() string { return "stopped after " + strconv.Itoa(e.n) + " redirects" }

// isTooManyRedirects reports whether err comes from the redirect policy.
func isTooManyRedirects(err error) bool {
	var t tooManyRedirects
	return errors.As(err, &t)
}

// PublicMessage returns what a client may be told about err, an error of
// this package: the connection and the kind of failure (the upstream's
// status, a timeout, offline mode, the host rule that refused a target, the
// setting a connection lacks), never the upstream's URL path, its response
// body or the connection's credentials. ok is false when err holds none of
// this package's errors.
func PublicMessage(err error) (msg string, ok bool) {
	var (
		re *RefusedError
		nc *notConfiguredError
		se *StatusError
	)
	switch {
	case errors.As(err, &re):
		return re.Error(), true
	case errors.As(err, &nc):
		return nc.Error(), true
	case errors.As(err, &se):
		s := "upstream " + se.Conn + ": "
		switch {
		case se.StatusCode != 0:
			return s + strconv.Itoa(se.StatusCode) + " " + http.StatusText(se.StatusCode), true
		case errors.Is(se, ErrTimeout):
			return s + "timed out", true
		case errors.Is(se, errOffline):
			return s + "offline (the connection is set offline and this is not stored)", true
		}
		return s + "unavailable", true
	}
	return "", false
}
