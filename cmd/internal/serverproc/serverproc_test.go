package serverproc

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWaitReadyReportsAnExit(t *testing.T) {
	p, err := Start("sh", "/bin/sh", []string{"-c", "echo dying; exit 3"}, nil, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	p.Tail = func() string { return "the tail" }
	err = p.WaitReady(t.Context(), 10*time.Second, 5*time.Millisecond, func(context.Context) error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "the tail") {
		t.Fatalf("err %v: want the exit and the log's tail", err)
	}
	if done, err := p.Exited(); !done || err == nil {
		t.Errorf("Exited: %v, %v; want exit status 3", err, done)
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	pr, pw := io.Pipe()
	p, err := Start("sh", "/bin/sh", []string{"-c", "trap '' TERM; echo up; while :; do sleep 0.05; done"}, nil, pw)
	if err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(pr).ReadString('\n'); line != "up\n" { // the trap is set
		t.Fatalf("%q, %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := p.Stop(syscall.SIGTERM, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop of a process ignoring SIGTERM: %v", err)
	}
	if done, _ := p.Exited(); !done {
		t.Error("still running after Stop")
	}
	if err := p.Stop(syscall.SIGTERM, time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestAnswers(t *testing.T) {
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	probe := Answers(srv.URL)
	if err := probe(t.Context()); err == nil {
		t.Error("503 taken for ready")
	}
	status = http.StatusOK
	if err := probe(t.Context()); err != nil {
		t.Error(err)
	}
}

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		name, log string
		n         int
		want      string
	}{
		{"fewer lines than n", "a\nb\n", 5, "a\nb"},
		{"the last n", "a\nb\nc\nd\n", 2, "c\nd"},
		{"no trailing newline", "a\nb\nc", 1, "c"},
		{"empty", "", 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := LastLines(tc.log, tc.n); got != tc.want {
				t.Errorf("LastLines(%q, %d) = %q, want %q", tc.log, tc.n, got, tc.want)
			}
		})
	}
}
