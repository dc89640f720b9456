package maven

import (
	"net/http"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// FuzzPaths sends deploys and reads to arbitrary repository paths
// (traversal, encoding tricks, overlong names).
func FuzzPaths(f *testing.F) {
	f.Add("com/acme/lib/1.0/lib-1.0.jar", []byte("jar"))
	f.Add("com/acme/lib/1.0/lib-1.0.jar.sha1", []byte("0000"))
	f.Add("com/acme/lib/maven-metadata.xml", []byte("<metadata><groupId>com.acme</groupId></metadata>"))
	f.Add("../../etc/passwd", []byte(""))
	f.Add("com/%2e%2e/lib/1.0/lib-1.0.pom", []byte("<project/>"))
	f.Add("com/acme/lib/1.0-SNAPSHOT/lib-1.0-20260101.000000-1.jar", []byte("x"))
	fz := proxytest.NewFuzzer(f, New())
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		fz.Do(t, http.MethodPut, "/acme/maven/internal/"+path, nil, body)
		fz.Do(t, http.MethodGet, "/acme/maven/internal/"+path, nil, nil)
	})
}
