package pypi_test

import (
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/formats/pypi"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// warm is a project of many versions as formattest lays it out for
// cmd/stockpile-bench's warm-pypi too, behind public:pypi.
var warm = proxytest.WarmOptions{Format: pypi.New(), URLFormat: "pypi", Connection: "public:pypi", ConnPath: "/simple/",
	Registry: func(base string) *formattest.Registry { return formattest.PyPIRegistry(base, "warm-demo") }}

// TestWarm: the simple page and the newest wheel are fetched once, then
// served from the cache.
func TestWarm(t *testing.T) { proxytest.StartWarm(t, warm) }

// BenchmarkWarm measures warm reads of the simple page and the newest
// wheel.
func BenchmarkWarm(b *testing.B) { proxytest.BenchWarm(b, warm) }
