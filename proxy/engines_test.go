package proxy_test

import (
	"os"
	"testing"

	"github.com/stockpile-proxy/stockpile/storage/enginetest"
)

// engines are PostgreSQL and SeaweedFS, started for the replicas tests.
var engines *enginetest.Engines

func TestMain(m *testing.M) { os.Exit(enginetest.Main(m, &engines)) }
