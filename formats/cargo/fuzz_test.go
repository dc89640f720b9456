package cargo

import (
	"net/http"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// FuzzPublishFrame sends arbitrary `cargo publish` frames.
func FuzzPublishFrame(f *testing.F) {
	f.Add(frame(`{"name":"fuzz_crate","vers":"1.0.0","deps":[],"features":{}}`, []byte{0x1f, 0x8b, 0, 0}))
	f.Add(frame(`{"name":"../x","vers":"1"}`, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	fz := proxytest.NewFuzzer(f, New())
	f.Fuzz(func(t *testing.T, body []byte) {
		fz.Do(t, http.MethodPut, "/acme/cargo/internal/api/v1/crates/new", nil, body)
	})
}
