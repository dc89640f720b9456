// Package bench is what runs the scenarios: what a scenario is and is
// given, the runner that measures its targets in interleaved rounds while
// sampling the servers, and the report (text and --json).
package bench

import (
	"context"
	"time"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/load"
	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
)

// Scenario is one benchmark: it sets up what it measures (fixtures,
// servers), names the targets the load generator measures, and tears
// everything down. To add one, write a type with these methods and list
// its constructor in main's newScenarios.
type Scenario interface {
	// Name is the name given on the command line.
	Name() string
	// Setup prepares the scenario. When it fails, Teardown is still called
	// to stop whatever was started.
	Setup(ctx context.Context) error
	// Targets returns what to measure, valid after Setup. Targets sharing a
	// Pair are compared (Stockpile against the baseline).
	Targets() []Target
	// Teardown stops everything Setup started. It may be called more than
	// once and after a failed Setup.
	Teardown() error
	// Info returns the facts worth reporting (fixture sizes, which binary
	// ran), once the targets have been measured.
	Info() map[string]any
}

// Checker is implemented by scenarios that judge their run once the targets
// have been measured (npm-cold-burst counts upstream fetches).
type Checker interface {
	Check(ctx context.Context, results []*TargetReport) ([]Finding, error)
}

// Sides of a comparison.
const (
	SideStockpile = "stockpile"
	SideBaseline  = "nginx"
)

// Target is one thing to measure.
type Target struct {
	Name string `json:"name"`           // "stockpile packument"
	Pair string `json:"pair,omitempty"` // what the sides of a comparison share: "packument"; empty for none
	Side string `json:"side"`           // SideStockpile or SideBaseline
	// Requests are what the load asks, each request one of them picked at
	// random (load.Run): mostly one; the cluster's burst spread over its
	// replicas, million's sampled URLs.
	Requests []load.Request `json:"requests"`
	// PID is the server process to sample during the run (0: none).
	PID int `json:"-"`
	// Load, when set, replaces the command line's load for this target,
	// but for its -d and -timeout where it sets none, and the target runs
	// in the first round only (the bursts: N clients, one request each, no
	// warm-up; soak's installs, its Pick).
	Load *load.Config `json:"-"`
	// Prepare, when set, is called before each run of the target with a
	// copy of it to change for that round (cold-10mb: a fresh package).
	Prepare func(ctx context.Context, round int, t *Target) error `json:"-"`
	// Memory, when set, samples the server this often and keeps its
	// memory series in the round (big-concurrent, soak).
	Memory time.Duration `json:"-"`
}

// Finding is one verdict of a Checker.
type Finding struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	OK    bool   `json:"ok"`
}

// Env is what every scenario is given: the command line's choices.
type Env struct {
	stack.Env
	// Burst is npm-cold-burst's number of clients.
	Burst int
	// BigSize and BigClients shape big-concurrent: the artifact's size
	// and how many clients download it at once.
	BigSize    int64
	BigClients int
	// Connections is -c: soak's concurrent clients.
	Connections int
	// SoakDuration and SoakWarmup shape soak: how long it runs and how
	// much of that is warm-up, left out of the memory slope.
	SoakDuration time.Duration
	SoakWarmup   time.Duration
	// Timeout bounds each request.
	Timeout time.Duration
	// UpstreamRate caps the fake upstream's sending rate in cold-10mb,
	// bytes per second; 0 is loopback's full speed.
	UpstreamRate int64
	// MillionDir keeps million's large data for reuse; MillionVersions
	// sizes it (0: 1,000,000).
	MillionDir      string
	MillionVersions int
}
