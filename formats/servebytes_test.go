package formats

import (
	"net/http"
	"testing"
)

func TestServeBytes(t *testing.T) {
	body := []byte("0123456789")
	tests := []struct {
		name       string
		method     string
		header     map[string]string
		wantStatus int
		wantBody   string
	}{
		{"get", http.MethodGet, nil, http.StatusOK, "0123456789"},
		{"head", http.MethodHead, nil, http.StatusOK, ""},
		{"range", http.MethodGet, map[string]string{"Range": "bytes=2-4"}, http.StatusPartialContent, "234"},
		{"not modified", http.MethodGet, map[string]string{"If-None-Match": `"v1"`}, http.StatusNotModified, ""},
		{"modified", http.MethodGet, map[string]string{"If-None-Match": `"v0"`}, http.StatusOK, "0123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := serveContext(tt.method, tt.header)
			c.Response().Header().Set("ETag", `"v1"`)
			c.Response().Header().Set("Content-Type", "text/plain")
			ServeBytes(c, body)
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Fatalf("%d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus == http.StatusOK && rec.Header().Get("Content-Length") != "10" {
				t.Fatalf("Content-Length %q", rec.Header().Get("Content-Length"))
			}
		})
	}
}
