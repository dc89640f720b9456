package npm_test

import (
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/formats/npm"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// TestWarm: a package as formattest.GenerateNPM builds it for
// cmd/stockpile-bench's npm-warm too, behind public:npmjs: the packument
// and the newest tarball are fetched once, then served from the cache;
// Stockpile's packument keeps the package's versions and digests and
// points the tarball at itself.
func TestWarm(t *testing.T) {
	var pkg *formattest.NPMPackage
	w := proxytest.StartWarm(t, proxytest.WarmOptions{Format: npm.New(), URLFormat: "npm", Connection: "public:npmjs", ConnPath: "/",
		Registry: func(base string) *formattest.Registry {
			var err error
			if pkg, err = formattest.GenerateNPM(formattest.NPMOptions{Name: "warm-demo", Upstream: base}); err != nil {
				t.Fatal(err)
			}
			return pkg.Registry()
		}})
	tarball, err := pkg.CheckPackument(w.Read(t, w.Registry.Metadata))
	if err != nil || tarball != w.Repo+pkg.TarballPath() {
		t.Errorf("Stockpile's packument: tarball %s (%v), want %s", tarball, err, w.Repo+pkg.TarballPath())
	}
}
