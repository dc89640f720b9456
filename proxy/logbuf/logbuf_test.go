package logbuf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records every write it is given.
type sink struct {
	mu     sync.Mutex
	writes []string
	fail   bool
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return 0, errors.New("disk full")
	}
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, "")
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.writes)
}

func TestWriterBuffersUntilFlush(t *testing.T) {
	tests := []struct {
		name  string
		flush func(*Writer) error
	}{
		{"Flush", (*Writer).Flush},
		{"Close", (*Writer).Close},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{}
			w := New(s, 1024)
			for i := range 3 {
				fmt.Fprintf(w, "line %d\n", i)
			}
			if n := s.count(); n != 0 {
				t.Fatalf("%d writes before the flush", n)
			}
			if err := tt.flush(w); err != nil {
				t.Fatal(err)
			}
			if got, want := s.text(), "line 0\nline 1\nline 2\n"; got != want || s.count() != 1 {
				t.Fatalf("after %s: %d writes %q, want one %q", tt.name, s.count(), got, want)
			}
		})
	}
}

func TestWriterNeverSplitsALine(t *testing.T) {
	s := &sink{}
	w := New(s, 100)
	var want strings.Builder
	for i := range 50 {
		line := fmt.Sprintf("request %02d %s\n", i, strings.Repeat("x", i%30))
		want.WriteString(line)
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("L", 250) + "\n" // longer than the buffer
	want.WriteString(long)
	w.Write([]byte(long))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if s.text() != want.String() {
		t.Fatalf("the log differs from what was written")
	}
	for i, wr := range s.writes {
		if !strings.HasSuffix(wr, "\n") {
			t.Errorf("write %d ends mid-line: %q", i, wr)
		}
		if len(wr) > 100 && wr != long {
			t.Errorf("write %d is %d bytes, over the buffer", i, len(wr))
		}
	}
}

func TestWriterAfterCloseWritesThrough(t *testing.T) {
	s := &sink{}
	w := New(s, 1024)
	w.Write([]byte("before\n"))
	w.Close()
	w.Write([]byte("late\n"))
	if got := s.text(); got != "before\nlate\n" {
		t.Fatalf("log %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestWriterFlushOnTick(t *testing.T) {
	s := &sink{}
	w := New(s, 1024)
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.FlushOn(ctx, tick) }()
	w.Write([]byte("a\n"))
	tick <- time.Time{}
	tick <- time.Time{} // the first tick's flush has run once this is taken
	if got := s.text(); got != "a\n" {
		t.Fatalf("after a tick: %q", got)
	}
	cancel()
	<-done
}

func TestWriterKeepsGoingAfterAFailedWrite(t *testing.T) {
	s := &sink{fail: true}
	w := New(s, 16)
	w.Write([]byte("lost line\n"))
	if err := w.Flush(); err == nil {
		t.Fatal("Flush to a failing writer: no error")
	}
	s.mu.Lock()
	s.fail = false
	s.mu.Unlock()
	w.Write([]byte("next\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := s.text(); got != "next\n" {
		t.Fatalf("log %q, want the line written after the failure", got)
	}
}

func TestWriterConcurrentLinesIntact(t *testing.T) {
	s := &sink{}
	w := New(s, 512)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				fmt.Fprintf(w, "g%d i%03d end\n", g, i)
			}
		}()
	}
	wg.Wait()
	w.Close()
	lines := strings.Split(strings.TrimSuffix(s.text(), "\n"), "\n")
	if len(lines) != 8*200 {
		t.Fatalf("%d lines, want %d", len(lines), 8*200)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l, "g%d i%d end", &g, &i); err != nil {
			t.Fatalf("mangled line %q", l)
		}
		seen[l] = true
	}
	if len(seen) != 8*200 {
		t.Fatalf("%d distinct lines", len(seen))
	}
}
