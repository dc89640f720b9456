package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// TestClassifyHidesInternals: what a client is told keeps the reason and
// drops storage prefixes (blob ids, paths), digests of received bytes and
// upstream response text.
func TestClassifyHidesInternals(t *testing.T) {
	blob := strings.Repeat("ab", 32)
	got := strings.Repeat("1f", 20)
	tests := []struct {
		name    string
		err     error
		status  int
		want    string
		mustNot []string
	}{
		{"too large below storage", fmt.Errorf("badgerstore: verify blob %s: %w", blob,
			fmt.Errorf("%w: x.bin is larger than 16 bytes", formats.ErrTooLarge)),
			413, "too large: x.bin is larger than 16 bytes", []string{"badgerstore", blob}},
		{"integrity", fmt.Errorf("resolver: %w", fmt.Errorf("%w: sha1 of x.tgz is %s, the metadata declares %s",
			formats.ErrIntegrity, got, strings.Repeat("0", 40))),
			502, "integrity: sha1 of x.tgz is …, the metadata declares " + strings.Repeat("0", 40), []string{got}},
		{"refused", fmt.Errorf("asset x: %w", &upstream.RefusedError{Conn: "public:npmjs", Origin: "http://127.0.0.1:9", Rule: "not allowed"}),
			502, "upstream public:npmjs: refused to contact http://127.0.0.1:9: not allowed", nil},
		{"storage unreachable", fmt.Errorf("resolver: %w", fmt.Errorf("postgres: get: %w: %w", storage.ErrUnavailable,
			errors.New("failed to connect to `user=postgres database=t1`: 127.0.0.1:5432: dial error"))),
			503, "the server's storage is unavailable for the moment: retry shortly", []string{"127.0.0.1", "postgres"}},
		{"unreachable beats not found", fmt.Errorf("%w: %w", formats.ErrNotFound, fmt.Errorf("s3: getting blobs/x: %w", storage.ErrUnavailable)),
			503, "the server's storage is unavailable for the moment: retry shortly", []string{"blobs/x"}},
		{"internal", fmt.Errorf("badgerstore: open /var/lib/stockpile/blobs/%s: permission denied", blob),
			500, "internal error", []string{blob, "/var/lib"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify(tt.err)
			if e.Status != tt.status || e.Message != tt.want {
				t.Errorf("classify = %d %q, want %d %q", e.Status, e.Message, tt.status, tt.want)
			}
			if ra := retryAfter(tt.err); (tt.status == 503) != (ra != "") {
				t.Errorf("Retry-After %q for a %d", ra, tt.status)
			}
			for _, s := range tt.mustNot {
				if strings.Contains(e.Message, s) {
					t.Errorf("message %q reveals %q", e.Message, s)
				}
			}
		})
	}
}

// TestResetForError: before a format's error renderer writes its body, the
// headers a handler set for the answer it meant to give are gone, and
// those that describe the error answer stay.
func TestResetForError(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want map[string]string // "" means absent
	}{
		{"validators and encodings go",
			map[string]string{"ETag": `"x"`, "Content-Encoding": "gzip", "Content-Length": "12", "Content-Range": "bytes 0-1/2", "X-Checksum-Sha1": "ab", "Repr-Digest": "sha-256=:x:", "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT", "Content-Type": "application/json"},
			map[string]string{"ETag": "", "Content-Encoding": "", "Content-Length": "", "Content-Range": "", "X-Checksum-Sha1": "", "Repr-Digest": "", "Last-Modified": "", "Content-Type": "", "Cache-Control": "no-store"}},
		{"what describes the error stays",
			map[string]string{"Allow": "GET, HEAD", "WWW-Authenticate": `Bearer realm="x"`, "Retry-After": "5", "X-Request-Id": "r1", "Cache-Control": "public, max-age=60", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"},
			map[string]string{"Allow": "GET, HEAD", "WWW-Authenticate": `Bearer realm="x"`, "Retry-After": "5", "X-Request-Id": "r1", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.set {
				h.Set(k, v)
			}
			resetForError(h)
			for k, v := range tt.want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestOneNotFound: formats test one "not found", formats.ErrNotFound,
// which an upstream's 404 matches too; the server still answers each as
// before (an upstream's 404 with the upstream's message), and an upstream
// failure is never a not-found.
func TestOneNotFound(t *testing.T) {
	tests := []struct {
		name             string
		err              error
		notFound, fromUp bool // errors.Is formats.ErrNotFound, upstream.ErrNotFound
		status           int
		want             string
	}{
		{"a format's own absence", fmt.Errorf("resolver: %w", fmt.Errorf("%w: cargo: %q is not a crate name", formats.ErrNotFound, "x y")),
			true, false, 404, `not found: cargo: "x y" is not a crate name`},
		{"the upstream's 404 through a format", fmt.Errorf("maven: com/x/maven-metadata.xml: %w", fmt.Errorf("http://127.0.0.1:9/x: %w", upstream.ErrNotFound)),
			true, true, 404, "not found upstream"},
		{"an upstream failure", fmt.Errorf("npm: %w", upstream.ErrUnavailable), false, false, 502, "upstream unavailable"},
		{"an upstream timeout", fmt.Errorf("npm: %w", upstream.ErrTimeout), false, false, 504, "upstream timed out"},
		{"a bad request wrapping an upstream 404", fmt.Errorf("%w: pypi: %w", formats.ErrInvalid, upstream.ErrNotFound),
			true, true, 400, "invalid request: pypi: not found upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, formats.ErrNotFound); got != tt.notFound {
				t.Errorf("errors.Is(err, formats.ErrNotFound) = %v, want %v", got, tt.notFound)
			}
			if got := errors.Is(tt.err, upstream.ErrNotFound); got != tt.fromUp {
				t.Errorf("errors.Is(err, upstream.ErrNotFound) = %v, want %v", got, tt.fromUp)
			}
			if e := classify(tt.err); e.Status != tt.status || e.Message != tt.want {
				t.Errorf("classify = %d %q, want %d %q", e.Status, e.Message, tt.status, tt.want)
			}
		})
	}
}
