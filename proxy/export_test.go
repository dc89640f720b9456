package proxy

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// Trickle dials addr and sends head, then one byte b every 50 ms until the
// test ends or a write fails: a request body far below any min_body_rate
// of the tests.
func Trickle(t *testing.T, addr, head string, b byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
			}
		}
	}()
	return c
}

// WaitClosed reads from c until the server closes it, and returns how long
// that took; it fails the test after limit.
func WaitClosed(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection was still open after %s", limit)
	}
	return time.Since(start)
}
