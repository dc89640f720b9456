//go:build !race

package cargo_test

const raceEnabled = false
