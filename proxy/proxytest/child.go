package proxytest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest/procfs"
)

// childEnv marks a test binary started by StartChild.
const childEnv = "STOCKPILE_PROXYTEST_CHILD"

// Child is a server running in a child process (the test binary itself),
// so that its memory can be measured apart from the test's own.
type Child struct {
	URL string
	PID int
}

// IsChild reports whether this test binary was started by StartChild to
// run the test called name.
func IsChild(name string) bool { return os.Getenv(childEnv) == name }

// ServeChild is called by the test named in StartChild, in the child: it
// announces in's URL to the parent and serves until the parent closes the
// child's standard input.
func ServeChild(t *testing.T, in *Instance) {
	fmt.Printf("\nproxytest-child-url %s\n", in.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// StartChild runs the test called name (which calls ServeChild when
// IsChild(name)) in a child process and returns its server. It skips the
// test where /proc is not there to measure.
func StartChild(t *testing.T, name string) *Child {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("memory is measured through /proc")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+name)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "proxytest-child-url "); ok {
				urls <- u
			}
		}
	}()
	select {
	case u := <-urls:
		return &Child{URL: u, PID: cmd.Process.Pid}
	case <-time.After(60 * time.Second):
		t.Fatal("proxytest: the child server did not start")
		return nil
	}
}

// Memory returns a field of the child's /proc/PID/status in bytes:
// "VmRSS" (resident now) or "VmHWM" (the most it has been resident).
func (c *Child) Memory(t *testing.T, field string) int64 {
	t.Helper()
	m, err := procfs.ReadMemStatus(c.PID)
	if err != nil {
		t.Fatal(err)
	}
	switch field {
	case "VmRSS":
		return int64(m.RSS)
	case "VmHWM":
		return int64(m.HWM)
	}
	t.Fatalf("Memory(%q): want VmRSS or VmHWM", field)
	return 0
}

// ResetPeak makes VmHWM start again from the child's resident size now
// (Linux: writing 5 to /proc/PID/clear_refs) and returns that size.
func (c *Child) ResetPeak(t *testing.T) int64 {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", c.PID), []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak: %v", err)
	}
	return c.Memory(t, "VmRSS")
}

// CPU returns the CPU time the child has used so far (user and system,
// from /proc/PID/stat, in clock ticks of 10 ms).
func (c *Child) CPU(t *testing.T) time.Duration {
	t.Helper()
	d, err := procfs.ReadCPU(c.PID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
