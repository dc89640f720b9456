package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
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
		{"internal", fmt.Errorf("badgerstore: open /var/lib/stockpile/blobs/%s: permission denied", blob),
			500, "internal error", []string{blob, "/var/lib"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify(tt.err)
			if e.Status != tt.status || e.Message != tt.want {
				t.Errorf("classify = %d %q, want %d %q", e.Status, e.Message, tt.status, tt.want)
			}
			for _, s := range tt.mustNot {
				if strings.Contains(e.Message, s) {
					t.Errorf("message %q reveals %q", e.Message, s)
				}
			}
		})
	}
}
