package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestReasonPhrase(t *testing.T) {
	tests := []struct {
		name, message, want string
	}{
		{"plain", "not allowed: foo version 1.0 is held", "Forbidden: not allowed: foo version 1.0 is held"},
		{"line breaks and tabs become spaces", "a\r\nb\tc", "Forbidden: a  b c"},
		{"non-ASCII and controls are replaced", "caf\u00e9\x00\x7f", "Forbidden: caf???"},
		{"bounded", strings.Repeat("x", 1000), "Forbidden: " + strings.Repeat("x", maxReasonPhrase-len("Forbidden: ")) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reasonPhrase(403, tt.message); got != tt.want {
				t.Errorf("reasonPhrase = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWriteWithReasonRecordsTheAnswer: the refusal written on the taken-over
// connection carries the message in its status line, and echo's Response
// (which the render went through) still says what was sent, so the access
// line and the metrics count a 403 with its body.
func TestWriteWithReasonRecordsTheAnswer(t *testing.T) {
	e := echo.New()
	type recorded struct {
		status int
		size   int64
	}
	got := make(chan recorded, 1)
	e.GET("/x", func(c echo.Context) error {
		err := writeWithReason(c, http.StatusForbidden, "not allowed: held", func() error {
			return c.String(http.StatusForbidden, "not allowed: held\n")
		})
		got <- recorded{c.Response().Status, c.Response().Size}
		return err
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Status != "403 Forbidden: not allowed: held" || string(body) != "not allowed: held\n" {
		t.Fatalf("got %q %q, want the message in the status line and the body", resp.Status, body)
	}
	if r := <-got; r.status != http.StatusForbidden || r.size != int64(len(body)) {
		t.Fatalf("echo's Response says %d, %d bytes; want 403, %d bytes", r.status, r.size, len(body))
	}
}
