package proxy

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// maxReasonPhrase bounds the reason phrase of a refusal: clients print it
// on one line.
const maxReasonPhrase = 400

// reasonPhrase turns a message into an HTTP/1.1 reason phrase: visible
// ASCII and spaces only (RFC 9112 section 4 allows HTAB, SP, VCHAR and
// obs-text; clients decode obs-text differently, so it is left out),
// bounded.
func reasonPhrase(status int, message string) string {
	var b strings.Builder
	b.WriteString(http.StatusText(status))
	b.WriteString(": ")
	for _, r := range message {
		if b.Len() >= maxReasonPhrase {
			b.WriteString("...")
			break
		}
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	return strings.TrimSpace(b.String())
}

// bufferedResponse is an http.ResponseWriter that keeps the answer.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// writeWithReason answers a firewall refusal of an HTTP/1.x request with
// message in the reason phrase of its status line as well as in the body
// render writes. Go's server always writes the standard phrase, so the
// connection is taken over (and closed after the answer). When it cannot
// be (HTTP/2, a test recorder) the buffered answer is written as usual.
func writeWithReason(c echo.Context, status int, message string, render func() error) error {
	resp := c.Response()
	orig := resp.Writer
	buf := &bufferedResponse{header: orig.Header().Clone()}
	resp.Writer = buf
	err := render()
	resp.Writer = orig
	if err != nil {
		return err
	}
	if buf.status == 0 {
		buf.status = status
	}
	if c.Request().ProtoMajor == 1 {
		conn, rw, herr := http.NewResponseController(orig).Hijack()
		if herr == nil {
			defer conn.Close()
			h := buf.header
			h.Set("Content-Length", strconv.Itoa(buf.body.Len()))
			h.Set("Connection", "close")
			if h.Get("Date") == "" {
				h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
			}
			fmt.Fprintf(rw, "HTTP/1.1 %03d %s\r\n", buf.status, reasonPhrase(buf.status, message))
			if err := h.Write(rw); err != nil {
				return err
			}
			rw.WriteString("\r\n")
			rw.Write(buf.body.Bytes())
			return rw.Flush()
		}
	}
	for k, v := range buf.header {
		orig.Header()[k] = v
	}
	orig.WriteHeader(buf.status)
	_, err = orig.Write(buf.body.Bytes())
	return err
}
