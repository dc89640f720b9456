//go:build race

package cargo_test

// raceEnabled: the race detector slows instrumented code several times.
const raceEnabled = true
