package rubygems

import (
	"archive/tar"
	"bytes"
	"net/http"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

func fuzzGem(files map[string][]byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))})
		tw.Write(body)
	}
	tw.Close()
	return buf.Bytes()
}

// FuzzPush sends arbitrary gems to `gem push`.
func FuzzPush(f *testing.F) {
	f.Add(fuzzGem(map[string][]byte{"metadata.gz": {0x1f, 0x8b}, "data.tar.gz": {0x1f, 0x8b}}))
	f.Add(fuzzGem(map[string][]byte{"../metadata.gz": []byte("x")}))
	f.Add([]byte("not a tar"))
	f.Add([]byte{})
	fz := proxytest.NewFuzzer(f, New())
	f.Fuzz(func(t *testing.T, body []byte) {
		fz.Do(t, http.MethodPost, "/acme/ruby/internal/api/v1/gems", http.Header{"Content-Type": {"application/octet-stream"}}, body)
	})
}
