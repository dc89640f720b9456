package cargo_test

import (
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/cargo"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// warm is a crate of many versions as formattest lays it out for
// cmd/stockpile-bench's warm-cargo too, behind public:crates-io.
var warm = proxytest.WarmOptions{Format: cargo.New(), URLFormat: "cargo", Connection: "public:crates-io", ConnPath: "/index/",
	Registry: func(base string) *formattest.Registry { return formattest.CargoRegistry(base, "warm-demo") }}

// TestWarm: the index file and the newest .crate are fetched once, then
// served from the cache.
func TestWarm(t *testing.T) { proxytest.StartWarm(t, warm) }

// BenchmarkWarm measures warm reads of the index file and the newest
// .crate.
func BenchmarkWarm(b *testing.B) { proxytest.BenchWarm(b, warm) }
