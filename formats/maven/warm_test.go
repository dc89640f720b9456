package maven_test

import (
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/formats/maven"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// warm is an artifact of many versions as formattest lays it out for
// cmd/stockpile-bench's warm-maven too, behind public:maven-central.
var warm = proxytest.WarmOptions{Format: maven.New(), URLFormat: "maven", Connection: "public:maven-central", ConnPath: "/maven2/",
	Registry: func(base string) *formattest.Registry { return formattest.MavenRegistry("org.acme", "warm-demo") }}

// TestWarm: the maven-metadata.xml and the newest jar are fetched once,
// then served from the cache.
func TestWarm(t *testing.T) { proxytest.StartWarm(t, warm) }

// BenchmarkWarm measures warm reads of the maven-metadata.xml and the
// newest jar.
func BenchmarkWarm(b *testing.B) { proxytest.BenchWarm(b, warm) }
