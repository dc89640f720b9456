// Package stack starts and stops what the scenarios measure: nginx (the
// fake upstream, and the baseline Stockpile is compared to) serving the
// fixtures, and the Stockpile under test configured on it.
package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Child is a server process the bench started (nginx, Stockpile) and must
// stop. Its standard output and error go to a log file.
type Child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	exited  chan struct{}
	waitErr error
	log     *slog.Logger
}

// startChild starts path with args; env nil inherits the bench's
// environment. The process gets SIGTERM if the bench dies without stopping
// it (Linux).
func startChild(name, path string, args, env []string, logPath string, log *slog.Logger) (*Child, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Child{name: name, cmd: cmd, logPath: logPath, logFile: f, exited: make(chan struct{}), log: log}
	go func() {
		c.waitErr = cmd.Wait()
		f.Close()
		close(c.exited)
	}()
	log.Debug("process started", "name", name, "pid", cmd.Process.Pid, "args", strings.Join(args, " "))
	return c, nil
}

// PID returns the process id.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// waitReady calls ready every so often until it succeeds, the process
// exits or timeout passes.
func (c *Child) waitReady(ctx context.Context, timeout, every time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(every)
	defer t.Stop()
	var last error
	for {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		last = ready(rctx)
		rcancel()
		if last == nil {
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited before it was ready (%v); its log ends with:\n%s", c.name, c.waitErr, c.logTail(20))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w; its log ends with:\n%s", c.name, timeout, last, c.logTail(20))
		case <-t.C:
		}
	}
}

// stop sends sig, waits up to grace for the process to exit, then kills it.
// It is safe to call more than once.
func (c *Child) stop(sig syscall.Signal, grace time.Duration) error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	if err := c.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", c.name, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.exited:
		c.log.Debug("process stopped", "name", c.name, "pid", c.PID())
		return nil
	case <-t.C:
	}
	c.log.Warn("process did not stop in time: killing it", "name", c.name, "pid", c.PID(), "grace", grace)
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", c.name, err)
	}
	<-c.exited
	return nil
}

// logTail returns the last n lines of the process's log.
func (c *Child) logTail(n int) string {
	raw, err := os.ReadFile(c.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tailLines(raw, n)
}

func tailLines(raw []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(raw, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
