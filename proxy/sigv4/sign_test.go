package sigv4

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSignVerifies signs requests with Sign and checks the Verifier
// accepts them, and refuses them once anything signed changes.
func TestSignVerifies(t *testing.T) {
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	v := NewVerifier(map[string]string{"AKIDSIGN": "secret-of-the-key"}, Options{Now: fixedClock(now)})
	tests := []struct {
		name   string
		method string
		target string
		body   []byte
		tamper func(*http.Request) []byte
		want   error
	}{
		{name: "post with query", method: "POST", target: "/v1/authorization-token?domain=bench&duration=3600", want: nil},
		{name: "body", method: "POST", target: "/v1/domain?domain=a%20b", body: []byte(`{"x":1}`), want: nil},
		{name: "query changed", method: "POST", target: "/v1/authorization-token?domain=bench",
			tamper: func(r *http.Request) []byte { r.URL.RawQuery = "domain=other"; return nil }, want: ErrSignature},
		{name: "body changed", method: "POST", target: "/v1/domain", body: []byte("a"),
			tamper: func(r *http.Request) []byte { return []byte("b") }, want: ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://127.0.0.1:8080"+tt.target, bytes.NewReader(tt.body))
			if err := Sign(r, tt.body, "AKIDSIGN", "secret-of-the-key", "us-east-1", now); err != nil {
				t.Fatal(err)
			}
			body := tt.body
			if tt.tamper != nil {
				if b := tt.tamper(r); b != nil {
					body = b
				}
				r.RequestURI = ""
			}
			key, err := v.Verify(r, body)
			if tt.want == nil {
				if err != nil || key != "AKIDSIGN" {
					t.Fatalf("Verify = %q, %v", key, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify err = %v, want %v", err, tt.want)
			}
		})
	}
}
