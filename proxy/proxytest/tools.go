package proxytest

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool finds a real client on PATH. It skips the test when the client
// is missing, except under STOCKPILE_E2E=require (CI), where a missing
// client fails the test: in CI real-client tests must run.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("STOCKPILE_E2E") == "require" {
			t.Fatalf("%s is required (STOCKPILE_E2E=require) but not installed: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}
