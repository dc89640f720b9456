package enginetest

import (
	"os"
	"testing"
)

// MainRemoving is Main for a test package that builds fixtures into one
// directory per test binary: after the tests it removes *dir, when the
// tests have set it.
func MainRemoving(m *testing.M, out **Engines, dir *string) int {
	code := Main(m, out)
	if *dir != "" {
		os.RemoveAll(*dir)
	}
	return code
}
