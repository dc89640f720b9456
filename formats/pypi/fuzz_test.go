package pypi

import (
	"net/http"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// FuzzUploadForm sends arbitrary multipart bodies to the upload API.
func FuzzUploadForm(f *testing.F) {
	form := func(fields string) []byte {
		return []byte("--B\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n" + fields + "--B--\r\n")
	}
	f.Add(form("--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nfuzz\r\n--B\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n1.0\r\n--B\r\nContent-Disposition: form-data; name=\"content\"; filename=\"fuzz-1.0.tar.gz\"\r\n\r\nxx\r\n"))
	f.Add(form("--B\r\nContent-Disposition: form-data; name=\"content\"; filename=\"../../x.whl\"\r\n\r\nPK\r\n"))
	f.Add([]byte("--B\r\n"))
	f.Add([]byte(""))
	fz := proxytest.NewFuzzer(f, New())
	f.Fuzz(func(t *testing.T, body []byte) {
		fz.Do(t, http.MethodPost, "/acme/pypi/internal/", http.Header{"Content-Type": {"multipart/form-data; boundary=B"}}, body)
	})
}
