package resolver

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

// TestServeBlobSendfile serves a file-backed blob through echo, whose
// response writer hides the connection's ReadFrom: the body must still go
// beneath it (counted in the trace, as the access log counts it), whole or
// as the range asked.
func TestServeBlobSendfile(t *testing.T) {
	store, err := badgerstore.Open(badgerstore.Options{InMemory: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	body := make([]byte, 3<<20+17)
	rand.Read(body)
	sums, err := store.WriteBlob(context.Background(), "acme", bytes.NewReader(body), nil)
	if err != nil {
		t.Fatal(err)
	}
	traces := make(chan *Trace, 1)
	e := echo.New()
	e.GET("/blob", func(c echo.Context) error {
		tr := &Trace{}
		req := c.Request().WithContext(WithTrace(c.Request().Context(), tr))
		blob, err := store.OpenBlob(req.Context(), "acme", sums.SHA256)
		if err != nil {
			return err
		}
		err = serveBlob(c.Response(), req, blob, time.Unix(1e9, 0))
		traces <- tr
		return err
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	tests := []struct {
		name       string
		rangeHdr   string
		wantStatus int
		want       []byte
	}{
		{"whole", "", http.StatusOK, body},
		{"range", "bytes=1000-1999", http.StatusPartialContent, body[1000:2000]},
		{"suffix", "bytes=-17", http.StatusPartialContent, body[len(body)-17:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/blob", nil)
			if tt.rangeHdr != "" {
				req.Header.Set("Range", tt.rangeHdr)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != tt.wantStatus || !bytes.Equal(got, tt.want) {
				t.Fatalf("status %d, %d bytes (equal %t), err %v; want %d, %d bytes",
					resp.StatusCode, len(got), bytes.Equal(got, tt.want), err, tt.wantStatus, len(tt.want))
			}
			if etag := resp.Header.Get("ETag"); etag != `"`+sums.SHA256+`"` {
				t.Errorf("ETag %q", etag)
			}
			if sent := (<-traces).Sent(); sent != int64(len(tt.want)) {
				t.Errorf("bytes sent beneath echo = %d, want %d (the file did not go to the connection)", sent, len(tt.want))
			}
		})
	}
}
