package npm

import (
	"net/http"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// FuzzPublishBody sends arbitrary publish bodies: each gets a 4xx in npm's
// shape or is accepted, never a 5xx, and a refused one stores nothing.
func FuzzPublishBody(f *testing.F) {
	f.Add("fuzz-pkg", []byte(`{"name":"fuzz-pkg","versions":{"1.0.0":{"name":"fuzz-pkg","version":"1.0.0","dist":{"integrity":"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==","shasum":"da39a3ee5e6b4b0d3255bfef95601890afd80709"}}},"dist-tags":{"latest":"1.0.0"},"_attachments":{"fuzz-pkg-1.0.0.tgz":{"data":"","length":0}}}`))
	f.Add("@scope%2fx", []byte(`{"name":"@scope/x","versions":{},"_attachments":{}}`))
	f.Add("fuzz-pkg", []byte(`{"versions":{"1.0.0":{"dist":{"integrity":"sha1-AAAA"}}},"_attachments":{"../x.tgz":{"data":"!!!"}}}`))
	f.Add("..%2f..%2fetc", []byte(`[]`))
	fz := proxytest.NewFuzzer(f, New())
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		fz.Do(t, http.MethodPut, "/acme/npm/internal/"+name, http.Header{"Content-Type": {"application/json"}}, body)
	})
}
