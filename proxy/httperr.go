package proxy

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/controlplane"
	"github.com/stockpile-proxy/stockpile/proxy/iam"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// classify maps any error to what the client is told: the one place where
// errors become HTTP. Unknown errors are 500 with no detail. It is long
// because it is that one place: one case per kind of error, in the order
// they must be tried.
func classify(err error) *controlplane.Error {
	var cp *controlplane.Error
	if errors.As(err, &cp) {
		return cp
	}
	if errors.Is(err, storage.ErrUnavailable) {
		// The database or the object store could not be reached: nothing
		// was decided, so the client is told to come back (with
		// Retry-After), never that the thing is absent. The log has which
		// server and why; the client is not told.
		return &controlplane.Error{Type: "ServiceUnavailableException", Status: http.StatusServiceUnavailable,
			Message: "the server's storage is unavailable for the moment: retry shortly"}
	}
	var denied *iam.Denied
	if errors.As(err, &denied) {
		return &controlplane.Error{Type: "AccessDeniedException", Status: http.StatusForbidden, Message: denied.Error()}
	}
	var me *model.Error
	if errors.As(err, &me) {
		e := &controlplane.Error{Message: me.Message, ResourceID: me.ResourceID, ResourceType: me.ResourceType}
		switch {
		case errors.Is(me, model.ErrNotFound):
			e.Type, e.Status = "ResourceNotFoundException", http.StatusNotFound
		case errors.Is(me, model.ErrConflict):
			e.Type, e.Status = "ConflictException", http.StatusConflict
		case errors.Is(me, model.ErrQuota):
			e.Type, e.Status = "ServiceQuotaExceededException", http.StatusPaymentRequired
		default:
			e.Type, e.Status, e.Reason = "ValidationException", http.StatusBadRequest, "FIELD_VALIDATION_FAILED"
		}
		return e
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok {
			msg = s
		}
		return &controlplane.Error{Type: typeFor(he.Code), Status: he.Code, Message: msg}
	}
	if errors.Is(err, syscall.ENOSPC) {
		// Storage refused a write (badgerstore keeps a reserve) or the file
		// system failed one: the client can retry later, the operator must
		// free space. The log has the storage layers' detail.
		return &controlplane.Error{Type: typeFor(http.StatusInsufficientStorage), Status: http.StatusInsufficientStorage,
			Message: "the server's disk is full: nothing new can be stored until space is freed; what is already cached is still served"}
	}
	if m, ok := firstStatus(err, engineStatuses); ok {
		return &controlplane.Error{Type: typeFor(m.status), Status: m.status, Message: fromSentinel(err, m.target)}
	}
	if errors.Is(err, formats.ErrIntegrity) {
		// Which digest disagreed is said; the digests themselves (that of
		// what was received tells what a URL holds) stay in the log.
		return &controlplane.Error{Type: typeFor(http.StatusBadGateway), Status: http.StatusBadGateway,
			Message: hideReceivedDigests(fromSentinel(err, formats.ErrIntegrity))}
	}
	if m, ok := firstStatus(err, upstreamStatuses); ok {
		msg, ok := upstream.PublicMessage(err)
		if !ok {
			msg = m.target.Error()
		}
		return &controlplane.Error{Type: typeFor(m.status), Status: m.status, Message: msg}
	}
	var se *upstream.StatusError
	if errors.As(err, &se) {
		// An upstream answer none of the sentinels above covers (400, 414,
		// …) is the upstream's failure, not Stockpile's: a 502 that says
		// which status it gave.
		msg, _ := upstream.PublicMessage(err)
		return &controlplane.Error{Type: typeFor(http.StatusBadGateway), Status: http.StatusBadGateway, Message: msg}
	}
	if errors.Is(err, context.Canceled) {
		return &controlplane.Error{Type: "RequestCanceled", Status: 499, Message: "the client closed the request"}
	}
	return &controlplane.Error{Type: "InternalServerException", Status: http.StatusInternalServerError, Message: "internal error"}
}

// hexRuns matches digests in hex (MD5 and longer).
var hexRuns = regexp.MustCompile(`[0-9a-fA-F]{32,}`)

// hideReceivedDigests replaces the hex digests in an integrity message by
// "…", except those the metadata declares (the client can read those): a
// digest of what was received would tell what the fetched URL holds.
func hideReceivedDigests(msg string) string {
	var b strings.Builder
	last := 0
	for _, m := range hexRuns.FindAllStringIndex(msg, -1) {
		b.WriteString(msg[last:m[0]])
		if strings.HasSuffix(msg[:m[0]], "declares ") {
			b.WriteString(msg[m[0]:m[1]])
		} else {
			b.WriteString("…")
		}
		last = m[1]
	}
	b.WriteString(msg[last:])
	return b.String()
}

// fromSentinel returns err's message from the sentinel on: formats write
// "%w: what went wrong" and the layers below (storage, with its blob ids
// and paths) wrap that in prefixes of their own, which the client is not
// told.
func fromSentinel(err, sentinel error) string {
	msg := err.Error()
	if i := strings.Index(msg, sentinel.Error()); i >= 0 {
		return msg[i:]
	}
	return sentinel.Error()
}

func typeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "ValidationException"
	case http.StatusUnauthorized, http.StatusForbidden:
		return "AccessDeniedException"
	case http.StatusNotFound:
		return "ResourceNotFoundException"
	case http.StatusConflict:
		return "ConflictException"
	case http.StatusTooManyRequests:
		return "ThrottlingException"
	}
	if status >= 500 {
		return "InternalServerException"
	}
	return "ValidationException"
}

// unavailableRetry is the Retry-After of a 503 for unreachable storage:
// about as long as PostgreSQL takes to restart.
const unavailableRetry = 2 * time.Second

// retryAfter returns the seconds an upstream asked us to wait, if any.
func retryAfter(err error) string {
	var se *upstream.StatusError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		return strconv.Itoa(int(se.RetryAfter.Seconds() + 0.5))
	}
	var be *formats.BusyError
	if errors.As(err, &be) && be.RetryAfter > 0 {
		return strconv.Itoa(int(be.RetryAfter.Seconds() + 0.5))
	}
	if errors.Is(err, storage.ErrUnavailable) {
		return strconv.Itoa(int(unavailableRetry.Seconds()))
	}
	return ""
}

// errorHeaders are the response headers that describe an error answer
// itself, or how a browser must treat any answer (the web interface's);
// resetForError keeps them.
var errorHeaders = []string{"Allow", "WWW-Authenticate", "Retry-After", requestIDHeader,
	"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"}

// resetForError drops what a handler said about the body it meant to send
// (its type, validators, encodings, ranges, checksums) before an error body
// replaces it, so a format's error renderer writes only its body. Errors are
// never cached.
func resetForError(h http.Header) {
	keep := map[string][]string{}
	for _, k := range errorHeaders {
		if v := h.Values(k); len(v) > 0 {
			keep[k] = v
		}
	}
	clear(h)
	for k, v := range keep {
		h[http.CanonicalHeaderKey(k)] = v
	}
	h.Set("Cache-Control", "no-store")
}

// handleError is echo's HTTPErrorHandler: it answers in the body shape of
// the client that asked (AWS JSON on /v1, the format's own elsewhere).
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := classify(err)
	req := c.Request()
	id := c.Response().Header().Get(requestIDHeader)
	if e.Status >= 500 {
		s.log.Error("request failed", "request_id", id, "method", req.Method, "path", req.URL.Path, "status", e.Status, "error", err.Error())
		s.noteError(c, e.Status, e.Message)
	} else {
		s.log.Debug("request refused", "request_id", id, "method", req.Method, "path", req.URL.Path, "status", e.Status, "error", err.Error())
	}
	if e.Status == 499 {
		c.Response().WriteHeader(e.Status)
		return
	}
	if ra := retryAfter(err); ra != "" {
		c.Response().Header().Set("Retry-After", ra)
	}
	message := e.Message
	if id := c.Response().Header().Get(requestIDHeader); id != "" {
		message += " (request id " + id + ")"
	}
	if strings.HasPrefix(req.URL.Path, "/v1/") {
		c.Response().Header().Set("x-amzn-ErrorType", e.Type)
		body := map[string]any{"message": message}
		if e.Reason != "" {
			body["reason"] = e.Reason
		}
		if e.ResourceType != "" {
			body["resourceType"], body["resourceId"] = e.ResourceType, e.ResourceID
		}
		_ = c.JSON(e.Status, body)
		return
	}
	resetForError(c.Response().Header())
	if req.Method == http.MethodHead {
		_ = c.NoContent(e.Status)
		return
	}
	render := func() error {
		if f, ok := c.Get(formatKey).(formats.Format); ok {
			if r, ok := f.(formats.ErrorRenderer); ok {
				if err := r.RenderError(c, e.Status, message); err == nil {
					return nil
				}
			}
		}
		return c.String(e.Status, message+"\n")
	}
	var refusal *formats.RefusalError
	if errors.As(err, &refusal) {
		_ = writeWithReason(c, e.Status, e.Message, render)
		return
	}
	_ = render()
}

// sentinelStatus is the status of the errors that wrap target, unless they
// also wrap unless.
type sentinelStatus struct {
	target, unless error
	status         int
}

// engineStatuses map the engine's and the formats' sentinels. An upstream's
// 404 is answered by upstreamStatuses, with its public message.
var engineStatuses = []sentinelStatus{
	{target: formats.ErrNotFound, unless: upstream.ErrNotFound, status: http.StatusNotFound},
	{target: formats.ErrInvalid, status: http.StatusBadRequest},
	{target: storage.ErrInvalidKey, status: http.StatusBadRequest},
	{target: formats.ErrConflict, status: http.StatusConflict},
	{target: formats.ErrNotAllowed, status: http.StatusForbidden},
	{target: formats.ErrTooLarge, status: http.StatusRequestEntityTooLarge},
	{target: formats.ErrNotAcceptable, status: http.StatusNotAcceptable},
	{target: formats.ErrBusy, status: http.StatusTooManyRequests},
}

// upstreamStatuses map the failures of an external connection.
var upstreamStatuses = []sentinelStatus{
	{target: upstream.ErrTimeout, status: http.StatusGatewayTimeout},
	{target: upstream.ErrNotConfigured, status: http.StatusBadGateway},
	{target: upstream.ErrUnavailable, status: http.StatusBadGateway},
	{target: upstream.ErrUnauthorized, status: http.StatusBadGateway},
	{target: upstream.ErrNotFound, status: http.StatusNotFound},
}

// firstStatus returns the first of table that err matches.
func firstStatus(err error, table []sentinelStatus) (sentinelStatus, bool) {
	for _, m := range table {
		if errors.Is(err, m.target) && (m.unless == nil || !errors.Is(err, m.unless)) {
			return m, true
		}
	}
	return sentinelStatus{}, false
}
