package sigv4

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCanonicalURI(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "/"},
		{"root", "/", "/"},
		{"plain", "/v1/domain", "/v1/domain"},
		{"trailing slash kept", "/v1/domain/", "/v1/domain/"},
		{"double slashes removed", "//v1//domain//", "/v1/domain/"},
		{"dot segments", "/v1/./a/b/../c", "/v1/a/c"},
		{"dot-dot above root", "/../../a", "/a"},
		{"all removed", "/a/..", "/"},
		{"percent re-encoded", "/a%3Ab/%40scope%2Fname", "/a%253Ab/%2540scope%252Fname"},
		{"lower-case escapes kept as sent", "/a%3ab", "/a%253ab"},
		{"unreserved untouched", "/AZaz09-._~", "/AZaz09-._~"},
		{"sub-delims encoded", "/a:b@c!$&'()*+,;=", "/a%3Ab%40c%21%24%26%27%28%29%2A%2B%2C%3B%3D"},
		{"raw utf-8 encoded once", "/ሴ", "/%E1%88%B4"},
		{"encoded dots are not dot segments", "/a/%2E%2E/b", "/a/%252E%252E/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := canonicalURI(tt.in); got != tt.want {
				t.Errorf("canonicalURI(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestWirePath(t *testing.T) {
	tests := []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{
			name: "server request uses RequestURI",
			req:  func() *http.Request { return httptest.NewRequest("GET", "/a%3Ab/c?x=1", nil) },
			want: "/a%3Ab/c",
		},
		{
			name: "RequestURI survives prefix stripping",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/api/v1/domain", nil)
				r.URL.Path = "/v1/domain"
				return r
			},
			want: "/api/v1/domain",
		},
		{
			name: "absolute-form RequestURI",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "http://example.com/a%3Ab?x=1", nil)
				r.RequestURI = "http://example.com/a%3Ab?x=1"
				return r
			},
			want: "/a%3Ab",
		},
		{
			name: "client request falls back to EscapedPath",
			req: func() *http.Request {
				r, _ := http.NewRequest("GET", "http://example.com/a%3Ab", nil)
				return r
			},
			want: "/a%3Ab",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wirePath(tt.req()); got != tt.want {
				t.Errorf("wirePath = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        error
	}{
		{name: "empty", in: "", want: ""},
		{name: "sorted by key", in: "b=2&a=1", want: "a=1&b=2"},
		{name: "upper case sorts first", in: "a=1&B=2", want: "B=2&a=1"},
		{name: "repeated key sorted by value", in: "a=2&a=10&a=1", want: "a=1&a=10&a=2"},
		{name: "missing value gets =", in: "flag&a=", want: "a=&flag="},
		{name: "empty pieces skipped", in: "&a=1&&b=2&", want: "a=1&b=2"},
		{name: "escapes normalized to upper case", in: "k=public%3anpmjs", want: "k=public%3Anpmjs"},
		{name: "over-escaped unreserved decoded", in: "k=%7Ex%2D", want: "k=~x-"},
		{name: "plus is a space", in: "k=a+b", want: "k=a%20b"},
		{name: "encoded plus stays plus", in: "k=a%2Bb", want: "k=a%2Bb"},
		{name: "reserved characters encoded", in: "k=a/b:c@d", want: "k=a%2Fb%3Ac%40d"},
		{name: "utf-8", in: "domain=caf%C3%A9", want: "domain=caf%C3%A9"},
		{name: "raw utf-8", in: "domain=café", want: "domain=caf%C3%A9"},
		{name: "semicolon is not a separator", in: "a=1;b=2", want: "a=1%3Bb%3D2"},
		{name: "bad escape", in: "a=%zz", wantErr: ErrMalformed},
		{name: "truncated escape in key", in: "a%2=1", wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := canonicalQuery(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("canonicalQuery(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCanonicalHeaders(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(r *http.Request)
		signed []string
		want   string
	}{
		{
			name:   "host from r.Host",
			setup:  func(r *http.Request) { r.Host = "127.0.0.1:8080" },
			signed: []string{"host"},
			want:   "host:127.0.0.1:8080\n",
		},
		{
			name: "values trimmed and spaces collapsed",
			setup: func(r *http.Request) {
				r.Header.Set("X-A", "  a   b \t c  ")
			},
			signed: []string{"x-a"},
			want:   "x-a:a b c\n",
		},
		{
			name: "repeated header joined with comma",
			setup: func(r *http.Request) {
				r.Header.Add("X-A", "1")
				r.Header.Add("X-A", " 2 ")
			},
			signed: []string{"x-a"},
			want:   "x-a:1,2\n",
		},
		{
			name:   "content-length moved out of Header",
			setup:  func(r *http.Request) { r.Header.Del("Content-Length"); r.ContentLength = 42 },
			signed: []string{"content-length"},
			want:   "content-length:42\n",
		},
		{
			name:   "absent header is empty",
			setup:  func(r *http.Request) {},
			signed: []string{"x-missing"},
			want:   "x-missing:\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(""))
			tt.setup(r)
			if got := canonicalHeaders(r, tt.signed); got != tt.want {
				t.Errorf("canonicalHeaders = %q, want %q", got, tt.want)
			}
		})
	}
}
