package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fakeDeadliner records the read deadlines a rateBody sets.
type fakeDeadliner struct{ set []time.Time }

func (f *fakeDeadliner) SetReadDeadline(t time.Time) error {
	f.set = append(f.set, t)
	return nil
}

// TestRateBodyWindows: the deadline moves on only when a window's quota has
// arrived, and is cleared when the body ends; the clock is injected.
func TestRateBodyWindows(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	dl := &fakeDeadliner{}
	src := strings.NewReader(strings.Repeat("x", 250))
	b := &rateBody{rc: io.NopCloser(src), dl: dl, now: func() time.Time { return now }, window: 10 * time.Second, quota: 100}
	buf := make([]byte, 60)
	read := func() {
		t.Helper()
		if _, err := b.Read(buf); err != nil && err != io.EOF {
			t.Fatal(err)
		}
	}
	read() // 60 bytes at t0: first window armed, quota not met
	if len(dl.set) != 1 || !dl.set[0].Equal(t0.Add(10*time.Second)) {
		t.Fatalf("deadlines %v, want one at t0+10s", dl.set)
	}
	now = t0.Add(3 * time.Second)
	read() // 120 bytes: quota met, a new window from now
	if len(dl.set) != 2 || !dl.set[1].Equal(now.Add(10*time.Second)) {
		t.Fatalf("deadlines %v, want a second at t0+13s", dl.set)
	}
	now = t0.Add(5 * time.Second)
	read() // 60 in this window: no change
	if len(dl.set) != 2 {
		t.Fatalf("deadlines %v, want no new one below the quota", dl.set)
	}
	read()
	read()
	read() // EOF
	if last := dl.set[len(dl.set)-1]; !last.IsZero() {
		t.Fatalf("deadlines %v, want the last cleared at EOF", dl.set)
	}
}

// startLimited serves h with the server-level limits of cfg on loopback.
func startLimited(t *testing.T, cfg HTTPConfig, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := newHTTPServer(cfg, h, slog.New(slog.DiscardHandler))
	hs.ConnState = func(c net.Conn, s http.ConnState) {
		if tc, ok := c.(*net.TCPConn); ok && s == http.StateNew {
			tc.SetWriteBuffer(32 << 10) // so that a slow reader holds the handler's writes back
		}
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// testLimits are tight limits for tests that run in real time.
func testLimits() HTTPConfig {
	return HTTPConfig{ReadHeaderTimeout: 500 * time.Millisecond, MaxHeaderBytes: DefaultMaxHeaderBytes,
		IdleTimeout: time.Second, MinBodyRate: 1000, MinBodyRateWindow: 500 * time.Millisecond}
}

// TestSlowBodyIsCut: a body that trickles in below min_body_rate is cut
// within its window, however long it would take to finish.
func TestSlowBodyIsCut(t *testing.T) {
	handlerErr := make(chan error, 1)
	addr := startLimited(t, testLimits(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		handlerErr <- err
	}))
	// 20 B/s against 1000 B/s.
	c := Trickle(t, addr, "PUT /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n", 'x')
	took := WaitClosed(t, c, 3*time.Second)
	if took > 2*time.Second {
		t.Errorf("cut after %s, want within the 500ms window (plus slack)", took)
	}
	select {
	case err := <-handlerErr:
		if !errors.Is(err, errSlowBody) {
			t.Errorf("the handler's read failed with %v, want errSlowBody", err)
		}
	case <-time.After(2 * time.Second):
		t.Error("the handler's read never failed")
	}
}

// TestFastBodyAcrossWindows: a body that keeps the rate over several
// windows is read whole.
func TestFastBodyAcrossWindows(t *testing.T) {
	got := make(chan int64, 1)
	// Each write brings ten windows' quota, so a loaded machine's late
	// wake-ups (up to most of a window) do not fail the test.
	cfg := testLimits()
	cfg.MinBodyRate, cfg.MinBodyRateWindow = 100, time.Second
	addr := startLimited(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got <- n
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const size = 12 * 1000
	fmt.Fprintf(c, "PUT /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n", size)
	for i := 0; i < 12; i++ { // 1000 bytes every 100 ms for 1.2 s: over two windows
		c.Write([]byte(strings.Repeat("y", 1000)))
		// The client's pace in real time: the rate is enforced with the
		// connection's read deadlines, which no fake clock moves.
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case n := <-got:
		if n != size {
			t.Errorf("handler read %d bytes, want %d", n, size)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("handler never finished")
	}
}

// TestSlowDownloadCompletes: a response to a client that reads slowly, but
// keeps reading, is never cut, even after a request body (whose rate
// deadline must not linger) and across many body-rate windows.
func TestSlowDownloadCompletes(t *testing.T) {
	const chunk, chunks = 64 << 10, 12
	addr := startLimited(t, testLimits(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", fmt.Sprint(chunk*chunks))
		for i := 0; i < chunks; i++ {
			if r.Context().Err() != nil {
				return // the server gave up on the request
			}
			if _, err := w.Write(make([]byte, chunk)); err != nil {
				return
			}
		}
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(64 << 10) // keep the kernel from buffering the whole answer
	}
	fmt.Fprintf(c, "POST /download HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello")
	br := bufio.NewReaderSize(c, 4<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	buf := make([]byte, 32<<10)
	start := time.Now()
	for { // 32 KiB every 50 ms: 640 KiB/s, about 1.2 s in all
		m, err := io.ReadFull(resp.Body, buf)
		n += int64(m)
		if err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // a slow reader in real time: write deadlines run on the real clock
	}
	if n != chunk*chunks {
		t.Fatalf("read %d of %d bytes in %s", n, chunk*chunks, time.Since(start))
	}
	if time.Since(start) < time.Second {
		t.Errorf("the download took only %s: the reader was not slow", time.Since(start))
	}
}

// TestHeaderLimits: headers over max_header_bytes get 431, and headers
// that never finish are cut after read_header_timeout.
func TestHeaderLimits(t *testing.T) {
	addr := startLimited(t, testLimits(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Run("too large", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		req.Header.Set("X-Big", strings.Repeat("a", 100<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
	})
	t.Run("slow", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: localhost\r\n")
		if took := WaitClosed(t, c, 3*time.Second); took > 2*time.Second {
			t.Errorf("cut after %s, want about 500ms", took)
		}
	})
}

func TestHTTPConfigValidate(t *testing.T) {
	var got []string
	add := func(path, format string, args ...any) { got = append(got, path) }
	HTTPConfig{}.validate(add)
	want := "http.read_header_timeout http.max_header_bytes http.idle_timeout"
	if strings.Join(got, " ") != want {
		t.Errorf("zero config: %v, want %s", got, want)
	}
	got = nil
	defaultHTTPConfig().validate(add)
	if len(got) != 0 {
		t.Errorf("defaults: %v", got)
	}
}
