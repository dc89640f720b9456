package nuget_test

import (
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/formats/nuget"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// warm is a package of many versions as formattest lays it out for
// cmd/stockpile-bench's warm-nuget too, behind public:nuget-org.
var warm = proxytest.WarmOptions{Format: nuget.New(), URLFormat: "nuget", Connection: "public:nuget-org", ConnPath: "/v3/index.json",
	Registry: func(base string) *formattest.Registry { return formattest.NuGetRegistry(base, "Acme.WarmDemo") }}

// TestWarm: the registration index and the newest .nupkg are fetched once,
// then served from the cache.
func TestWarm(t *testing.T) { proxytest.StartWarm(t, warm) }

// BenchmarkWarm measures warm reads of the registration index and the
// newest .nupkg.
func BenchmarkWarm(b *testing.B) { proxytest.BenchWarm(b, warm) }
