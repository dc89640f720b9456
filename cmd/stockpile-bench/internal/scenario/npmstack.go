// Package scenario holds the scenarios that stand on a stack of nginx and
// Stockpile: npm-warm, npm-cold-burst, cold-burst-1000, cold-10mb,
// big-concurrent, soak, cluster and warm-{pypi,maven,cargo,nuget,ruby}.
package scenario

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/bench"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/fixture"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

// npmStack is what the npm scenarios stand on: a stack whose fixture is
// one generated npm package, served by nginx as the public registry does,
// and whose Stockpile (started here, or an existing one given with
// --target) has nginx as public:npmjs.
type npmStack struct {
	*stack.Stack
	fixture *formattest.NPMPackage
	// deployed runs the servers as deployed (stack.Options.Deployed).
	deployed bool
}

func newNPMStack(env bench.Env) npmStack { return npmStack{Stack: stack.New(env.Env)} }

// up generates the fixture called name for nginx's address and starts nginx
// and Stockpile. accessLog turns on nginx's access log.
func (s *npmStack) up(ctx context.Context, scenario, name string, accessLog bool) error {
	return s.Up(ctx, stack.Options{
		Scenario: scenario, Format: "npm", AccessLog: accessLog, NPM: true, Deployed: s.deployed,
		Populate: func(root, base string) error {
			f, err := formattest.GenerateNPM(formattest.NPMOptions{Name: name, Upstream: base + "/"})
			if err != nil {
				return err
			}
			s.fixture = f
			return fixture.WriteNPM(root, f)
		},
	})
}

// info returns what the report says about the stack and its fixture.
func (s *npmStack) info() map[string]any {
	m := s.Info()
	if s.fixture != nil {
		m["package"] = s.fixture.Name
		m["version"] = s.fixture.Version
		m["versions"] = s.fixture.Versions
		m["packument_bytes"] = len(s.fixture.Packument)
		m["tarball_bytes"] = len(s.fixture.Tarball)
	}
	return m
}

// nonce returns what no other run's names have: the time and random
// bytes, for packages Stockpile must never have seen.
func nonce() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24 and later)
	return fmt.Sprintf("%d-%s", time.Now().Unix(), hex.EncodeToString(b[:]))
}

// Constructors returns the scenarios of this package by name: npm's warm,
// cold and memory scenarios, and the warm scenario of each other format.
func Constructors() map[string]func(bench.Env) bench.Scenario {
	m := map[string]func(bench.Env) bench.Scenario{
		"npm-warm":        func(e bench.Env) bench.Scenario { return newNPMWarm(e) },
		"npm-cold-burst":  func(e bench.Env) bench.Scenario { return newNPMColdBurst(e) },
		"cold-10mb":       func(e bench.Env) bench.Scenario { return newCold10MB(e) },
		"cold-burst-1000": func(e bench.Env) bench.Scenario { return newColdBurst1000(e) },
		"big-concurrent":  func(e bench.Env) bench.Scenario { return newBigConcurrent(e) },
		"soak":            func(e bench.Env) bench.Scenario { return newSoak(e) },
		"cluster":         func(e bench.Env) bench.Scenario { return newCluster(e) },
	}
	for _, spec := range []fixture.FormatSpec{fixture.PyPI, fixture.Maven, fixture.Cargo, fixture.NuGet, fixture.Ruby} {
		m[spec.Scenario] = func(e bench.Env) bench.Scenario { return newFormatWarm(e, spec) }
	}
	return m
}
