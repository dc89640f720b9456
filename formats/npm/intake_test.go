package npm

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// hugeBody is a publish body of about size bytes, sent chunked: a tiny
// tarball and a readme that makes up the rest (or, with inData, the
// tarball's base64 data that does).
type hugeBody struct {
	parts [][]byte
	fill  byte
	size  int64
	sent  atomic.Int64
	where int // 0: prefix, 1: filler, 2: suffix
}

func newHugeBody(size int64, inData bool) *hugeBody {
	tgz := base64.StdEncoding.EncodeToString([]byte("tiny tarball"))
	head := `{"name":"huge","versions":{"1.0.0":{"name":"huge","version":"1.0.0","readme":"`
	tail := `"}},"dist-tags":{"latest":"1.0.0"},"_attachments":{"huge-1.0.0.tgz":{"data":"` + tgz + `"}}}`
	fill := byte('x')
	if inData {
		head = `{"name":"huge","versions":{"1.0.0":{"name":"huge","version":"1.0.0"}},"dist-tags":{"latest":"1.0.0"},"_attachments":{"huge-1.0.0.tgz":{"data":"`
		tail, fill = `"}}}`, 'A'
	}
	return &hugeBody{parts: [][]byte{[]byte(head), nil, []byte(tail)}, fill: fill, size: size - int64(len(head)+len(tail))}
}

func (b *hugeBody) Read(p []byte) (int, error) {
	switch b.where {
	case 0, 2:
		n := copy(p, b.parts[b.where])
		b.parts[b.where] = b.parts[b.where][n:]
		if len(b.parts[b.where]) == 0 {
			b.where++
		}
		b.sent.Add(int64(n))
		return n, nil
	case 1:
		n := int(min(int64(len(p)), b.size))
		for i := range n {
			p[i] = b.fill
		}
		b.size -= int64(n)
		if b.size == 0 {
			b.where++
		}
		b.sent.Add(int64(n))
		return n, nil
	}
	return 0, io.EOF
}

// TestPublishMemoryChild is the server of TestHugePublishBodyMemory, run in
// a child process.
func TestPublishMemoryChild(t *testing.T) {
	if !proxytest.IsChild(t.Name()) {
		t.Skip("the server of TestHugePublishBodyMemory")
	}
	cfg := proxy.Defaults()
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "internal"}}}}
	cfg.MaxPublishSize = 1 << 20
	proxytest.ServeChild(t, proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{New()}}))
}

// TestHugePublishBodyMemory sends 250 MB chunked publish bodies with a tiny
// tarball (the bulk in the document, or in the attachment's data) to a
// server in a child process: each is refused with 413 before the client has
// sent much of it, and the server's resident memory grows by less than
// 64 MiB.
func TestHugePublishBodyMemory(t *testing.T) {
	child := proxytest.StartChild(t, "TestPublishMemoryChild")
	url := child.URL + "/acme/npm/internal/huge"
	client := &http.Client{Timeout: 2 * time.Minute}
	t.Cleanup(client.CloseIdleConnections)
	// Warm the server's publish path once.
	small := newHugeBody(4<<10, false)
	if st := put(t, client, url, small); st != http.StatusOK {
		t.Fatalf("small publish: %d", st)
	}
	base := child.ResetPeak(t)
	for _, tc := range []struct {
		name   string
		inData bool
	}{{"document", false}, {"attachment data", true}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newHugeBody(250_000_000, tc.inData)
			if st := put(t, client, url, b); st != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413", st)
			}
			t.Logf("peak now %d MiB", child.Memory(t, "VmHWM")>>20)
			if sent := b.sent.Load(); sent > 64<<20 {
				t.Errorf("the client sent %d bytes before the refusal", sent)
			}
		})
	}
	peak := child.Memory(t, "VmHWM")
	t.Logf("server resident: %d MiB before, peak %d MiB after (growth %d MiB)", base>>20, peak>>20, (peak-base)>>20)
	if peak-base > 64<<20 {
		t.Errorf("the server's resident memory grew by %d MiB", (peak-base)>>20)
	}
}

func put(t *testing.T, client *http.Client, url string, body io.Reader) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK && !bytes.Contains(msg, []byte(`"error"`)) {
		t.Errorf("status %d without npm's error shape: %s", resp.StatusCode, msg)
	}
	if resp.StatusCode == http.StatusRequestEntityTooLarge && !strings.Contains(string(msg), "larger than") {
		t.Errorf("413 without its reason: %s", msg)
	}
	return resp.StatusCode
}

// TestPublishCap holds one publish open on a server that takes one at a
// time: a second gets 429 with Retry-After in npm's error shape, and goes
// through once the first is done.
func TestPublishCap(t *testing.T) {
	cfg := proxy.Defaults()
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "internal"}}}}
	cfg.MaxConcurrentPublishes = 1
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{New()}})
	client := &http.Client{Timeout: time.Minute}
	t.Cleanup(client.CloseIdleConnections)

	pr, pw := io.Pipe()
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPut, in.URL+"/acme/npm/internal/huge", pr)
		resp, err := client.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	body := newHugeBody(4<<10, false)
	head, _ := io.ReadAll(io.LimitReader(body, 100))
	if _, err := pw.Write(head); err != nil { // the first publish is in progress
		t.Fatal(err)
	}
	var status int
	var retry, msg string
	// Until the server holds the first publish: its body keeps trickling in,
	// a byte a round, so that no minimum-rate rule cuts it meanwhile.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if b, _ := io.ReadAll(io.LimitReader(body, 1)); len(b) > 0 {
			if _, err := pw.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		req, _ := http.NewRequest(http.MethodPut, in.URL+"/acme/npm/internal/other", strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, retry, msg = resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
		if status == http.StatusTooManyRequests {
			break
		}
		time.Sleep(10 * time.Millisecond) // the slow publisher's pace: a byte a round
	}
	if status != http.StatusTooManyRequests || retry == "" || !strings.Contains(msg, `"error"`) {
		t.Fatalf("second publish: %d Retry-After %q %s", status, retry, msg)
	}
	if _, err := io.Copy(pw, body); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if st := <-first; st != http.StatusOK {
		t.Fatalf("first publish: %d", st)
	}
	if st := put(t, client, in.URL+"/acme/npm/internal/huge", newHugeBody(4<<10, false)); st != http.StatusConflict {
		t.Fatalf("a publish after the first: %d, want 409 (the version exists)", st)
	}
}
