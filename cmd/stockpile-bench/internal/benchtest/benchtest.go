// Package benchtest holds what the bench's end-to-end tests share: the
// stockpile binary they run and the nginx they need.
package benchtest

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stockpile-proxy/stockpile/cmd/stockpile-bench/internal/stack"
)

// Stockpile builds cmd/stockpile into the test's temporary directory, or
// returns $STOCKPILE_BENCH_BINARY when set (a variant built by hand). It
// skips without a go command.
func Stockpile(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("STOCKPILE_BENCH_BINARY"); bin != "" {
		return bin
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build stockpile with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "stockpile")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/stockpile-proxy/stockpile/cmd/stockpile")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build stockpile: %v\n%s", err, out)
	}
	return bin
}

// RequireNginx skips a test when Debian's nginx is not installed.
func RequireNginx(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(stack.DefaultNginx); err != nil {
		t.Skipf("nginx not installed (%s): apt-get install -y nginx", stack.DefaultNginx)
	}
}

// Root makes a working root of the test's own, readable by nginx's workers
// (so that other runs on the machine cannot look like its leftovers), and
// removes it when the test ends.
func Root(t *testing.T, prefix string) string {
	t.Helper()
	root, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// Logger logs to the test's output at level.
func Logger(t *testing.T, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}
