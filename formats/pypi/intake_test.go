package pypi

import (
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// countingZeros is an endless file body that counts what was read of it.
type countingZeros struct{ read *atomic.Int64 }

func (z countingZeros) Read(p []byte) (int, error) {
	clear(p)
	z.read.Add(int64(len(p)))
	return len(p), nil
}

// TestUploadOverTheLimitIsNotSpooled sends a 40 MiB file, chunked, to a
// server whose max_publish_size is 1 MiB: it is refused with 413 before the
// client has sent much more than the limit, and the spool directory below
// the data directory is empty afterwards.
func TestUploadOverTheLimitIsNotSpooled(t *testing.T) {
	e := startEnv(t, envOptions{publish: 1 << 20})
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	var sent atomic.Int64
	go func() {
		for k, v := range map[string]string{":action": "file_upload", "protocol_version": "1", "name": "acme-secret", "version": "0.1.0", "filetype": "sdist", "metadata_version": "2.1"} {
			mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile("content", "acme_secret-0.1.0.tar.gz")
		_, err := io.Copy(fw, io.LimitReader(countingZeros{&sent}, 40<<20))
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest(http.MethodPost, e.repo("internal")+"/", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.SetBasicAuth("aws", e.token)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pr.CloseWithError(fmt.Errorf("done"))
	t.Logf("%d after %v, %d bytes of the file sent: %s", resp.StatusCode, time.Since(start), sent.Load(), msg)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	if n := sent.Load(); n > 8<<20 {
		t.Errorf("the client sent %d bytes of the file before the refusal", n)
	}
	t.Logf("checks at %v", time.Since(start))
	entries, err := os.ReadDir(filepath.Join(e.in.DataDir(), "tmp"))
	if err != nil || len(entries) != 0 {
		t.Errorf("spool directory after the refusal: %v %v", entries, err)
	}
}
