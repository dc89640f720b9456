package rubygems_test

import (
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/formats/rubygems"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// warm is a gem of many versions as formattest lays it out for
// cmd/stockpile-bench's warm-ruby too, behind public:ruby-gems-org.
var warm = proxytest.WarmOptions{Format: rubygems.New(), URLFormat: "ruby", Connection: "public:ruby-gems-org", ConnPath: "/",
	Registry: func(base string) *formattest.Registry { return formattest.RubyGemsRegistry("warm_demo") }}

// TestWarm: the info file and the newest .gem are fetched once, then served
// from the cache.
func TestWarm(t *testing.T) { proxytest.StartWarm(t, warm) }

// BenchmarkWarm measures warm reads of the info file and the newest .gem.
func BenchmarkWarm(b *testing.B) { proxytest.BenchWarm(b, warm) }
