package nuget

import (
	"archive/zip"
	"bytes"
	"net/http"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

func fuzzNupkg(files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

// FuzzPush sends arbitrary packages to `nuget push` (zip bombs, traversal,
// broken nuspecs).
func FuzzPush(f *testing.F) {
	f.Add(fuzzNupkg(map[string]string{"Fuzz.nuspec": `<?xml version="1.0"?><package><metadata><id>Fuzz</id><version>1.0.0</version><authors>a</authors><description>d</description></metadata></package>`}))
	f.Add(fuzzNupkg(map[string]string{"../evil.nuspec": "<package/>", "a.nuspec": "<package/>"}))
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{})
	fz := proxytest.NewFuzzer(f, New())
	f.Fuzz(func(t *testing.T, body []byte) {
		fz.Do(t, http.MethodPut, "/acme/nuget/internal/v3/package/", nil, body)
	})
}
