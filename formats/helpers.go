package formats

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// MethodNotAllowed answers 405 with an Allow header listing the methods the
// path serves; format names the format in the message.
func MethodNotAllowed(c echo.Context, format string, allow ...string) error {
	c.Response().Header().Set("Allow", strings.Join(allow, ", "))
	return echo.NewHTTPError(http.StatusMethodNotAllowed, format+": method "+c.Request().Method+" is not allowed here")
}

// Allow returns MethodNotAllowed unless the request uses one of methods.
func Allow(c echo.Context, format string, methods ...string) error {
	m := c.Request().Method
	for _, ok := range methods {
		if m == ok {
			return nil
		}
	}
	return MethodNotAllowed(c, format, methods...)
}

// maxQuoted bounds what Clip keeps of a string quoted back in a message.
const maxQuoted = 64

// Clip bounds a client-supplied or upstream string quoted back in a
// message, marking a cut with an ellipsis.
func Clip(s string) string {
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "…"
	}
	return s
}

// Truncate bounds a string kept from untrusted input to n bytes.
func Truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// OrDefault returns v, or def when v is zero or negative: how an option a
// configuration leaves unset takes its default.
func OrDefault[T ~int | ~int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// MountCatchAll routes every method on the group's root and on every path
// below it to h, for formats that dispatch on the path themselves.
func MountCatchAll(g *echo.Group, h echo.HandlerFunc) {
	g.Any("", h)
	g.Any("/*", h)
}

// RenderText is an error renderer for clients that print a plain-text body:
// the message as one line. HEAD answers carry no body.
func RenderText(c echo.Context, status int, message string) error {
	return c.String(status, message+"\n")
}

// MarshalJSON encodes v as the registries write JSON: without escaping <, >
// and & (version ranges, URLs and descriptions stay readable) and without
// json.Encoder's trailing newline.
func MarshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
