// Package enginetest starts the real engines the PostgreSQL + S3 storage
// backend runs on, for tests: one PostgreSQL cluster and one SeaweedFS S3
// server per test package, on 127.0.0.1 only, each test getting its own
// database and bucket.
//
// A test package sets them up from TestMain:
//
//	var engines *enginetest.Engines
//
//	func TestMain(m *testing.M) { os.Exit(enginetest.Main(m, &engines)) }
//
// When PostgreSQL's binaries or weed are missing, tests that ask for them
// skip, except under STOCKPILE_ENGINES=require (set by CI), where they fail.
// weed is found through STOCKPILE_WEED or PATH; PostgreSQL through
// STOCKPILE_PG_BIN, PATH, or Debian's /usr/lib/postgresql/N/bin.
package enginetest

import (
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
)

// RequireEnv is the environment variable that turns a missing engine from a
// skip into a failure.
const RequireEnv = "STOCKPILE_ENGINES"

// Engines are the servers of one test package, each started when a test
// first asks for it and stopped when the package's tests end.
type Engines struct {
	pgOnce, s3Once     sync.Once
	pg                 *Postgres
	s3                 *Weed
	pgReason, s3Reason string
}

// Main runs the package's tests with engines started on demand, then stops
// them. It returns the exit code for os.Exit.
func Main(m *testing.M, out **Engines) int {
	e := &Engines{}
	*out = e
	code := m.Run()
	if e.pg != nil {
		e.pg.Close()
	}
	if e.s3 != nil {
		e.s3.Close()
	}
	return code
}

// Postgres returns the package's PostgreSQL cluster, started on first use,
// or skips t (fails it under STOCKPILE_ENGINES=require) when it cannot run.
func (e *Engines) Postgres(t testing.TB) *Postgres {
	t.Helper()
	if e != nil {
		e.pgOnce.Do(func() {
			var err error
			if e.pg, err = StartPostgres(); err != nil {
				e.pgReason = err.Error()
			}
		})
	}
	if e == nil || e.pg == nil {
		absent(t, "PostgreSQL", e.reason(func(e *Engines) string { return e.pgReason }))
	}
	return e.pg
}

// S3 returns the package's SeaweedFS S3 server, started on first use, or
// skips t (fails it under STOCKPILE_ENGINES=require) when it cannot run.
func (e *Engines) S3(t testing.TB) *Weed {
	t.Helper()
	if e != nil {
		e.s3Once.Do(func() {
			var err error
			if e.s3, err = StartWeed(); err != nil {
				e.s3Reason = err.Error()
			}
		})
	}
	if e == nil || e.s3 == nil {
		absent(t, "SeaweedFS (weed)", e.reason(func(e *Engines) string { return e.s3Reason }))
	}
	return e.s3
}

func (e *Engines) reason(f func(*Engines) string) string {
	if e == nil {
		return "enginetest.Main was not called from TestMain"
	}
	return f(e)
}

func absent(t testing.TB, what, why string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "require" {
		t.Fatalf("%s is required (%s=require) but could not be started: %s", what, RequireEnv, why)
	}
	t.Skipf("%s not available: %s", what, why)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// OwnPostgres starts a PostgreSQL cluster for t alone, which t may stop
// and start again (an outage) without disturbing the package's other
// tests; it is removed when t ends. It skips t (fails it under
// STOCKPILE_ENGINES=require) when PostgreSQL cannot run.
func OwnPostgres(t testing.TB) *Postgres {
	t.Helper()
	p, err := StartPostgres()
	if err != nil {
		absent(t, "PostgreSQL", err.Error())
	}
	t.Cleanup(p.Close)
	return p
}

// OwnWeed starts a SeaweedFS S3 server for t alone, which t may stop and
// start again; it is removed when t ends. It skips t (fails it under
// STOCKPILE_ENGINES=require) when weed cannot run.
func OwnWeed(t testing.TB) *Weed {
	t.Helper()
	w, err := StartWeed()
	if err != nil {
		absent(t, "SeaweedFS (weed)", err.Error())
	}
	t.Cleanup(w.Close)
	return w
}
