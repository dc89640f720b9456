// Package serverproc runs a server in a child process — `stockpile serve`,
// nginx — as cmd/stockpile's process tests and stockpile-bench do: start
// it with its output going to a writer, wait until it answers, stop it.
package serverproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Process is a server process that must be stopped.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	// Tail, when set, returns the end of the process's log, which the
	// errors of WaitReady quote.
	Tail   func() string
	exited chan struct{}
	err    error
}

// Start starts path with args, its standard output and error going to
// out; env nil inherits this process's environment. On Linux the child
// gets SIGTERM if this process dies without stopping it.
func Start(name, path string, args, env []string, out io.Writer) (*Process, error) {
	cmd := exec.Command(path, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.SysProcAttr = env, out, out, procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Serve starts `stockpile serve` on a configuration file, a data directory
// and an address (host:port) and waits up to a minute for /-/ready; tail
// is the Process's Tail.
func Serve(ctx context.Context, bin, config, dataDir, listen string, env []string, out io.Writer, tail func() string) (*Process, error) {
	p, err := Start("stockpile", bin, []string{"serve", "--config", config, "--data-dir", dataDir, "--listen", listen}, env, out)
	if err != nil {
		return nil, err
	}
	p.Tail = tail
	if err := p.WaitReady(ctx, time.Minute, 5*time.Millisecond, Answers("http://"+listen+"/-/ready")); err != nil {
		_ = p.Stop(os.Kill, 10*time.Second)
		return nil, err
	}
	return p, nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.exited:
		return true, p.err
	default:
		return false, nil
	}
}

// Answers returns a readiness probe: a GET of url answers 200.
func Answers(url string) func(context.Context) error {
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// WaitReady calls ready every so often until it succeeds, the process
// exits or timeout passes.
func (p *Process) WaitReady(ctx context.Context, timeout, every time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		err := ready(rctx)
		rcancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%v)%s", p.Name, p.err, p.tail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w%s", p.Name, timeout, err, p.tail())
		case <-t.C:
		}
	}
}

// LastLines returns the last n lines of a log's text, for a Tail.
func LastLines(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (p *Process) tail() string {
	if p.Tail == nil {
		return ""
	}
	return "; its log ends with:\n" + p.Tail()
}

// Stop sends sig, waits up to grace for the process to exit, then kills
// it; how the process ended is Exited's. It may be called more than once.
func (p *Process) Stop(sig os.Signal, grace time.Duration) error {
	if done, _ := p.Exited(); done {
		return nil
	}
	if err := p.Cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.Name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	_ = p.Cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("%s did not stop within %s of %v: killed", p.Name, grace, sig)
}
