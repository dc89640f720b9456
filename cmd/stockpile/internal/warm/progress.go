package warm

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Bar draws a progress bar on a terminal, redrawn in place at most every
// Every.
type Bar struct {
	W     io.Writer
	Now   func() time.Time
	Every time.Duration

	total, done, failed int
	last                time.Time
}

// Start implements Progress.
func (b *Bar) Start(total int) { b.total = total; b.draw(true) }

// Done implements Progress.
func (b *Bar) Done(r Result) {
	b.done++
	if r.Err != nil {
		b.failed++
	}
	b.draw(b.done == b.total)
}

// Finish implements Progress.
func (b *Bar) Finish(Summary) { fmt.Fprintln(b.W) }

func (b *Bar) draw(force bool) {
	now := b.Now()
	if !force && now.Sub(b.last) < b.Every {
		return
	}
	b.last = now
	const width = 30
	filled := width
	if b.total > 0 {
		filled = width * b.done / b.total
	}
	fmt.Fprintf(b.W, "\r[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), b.done, b.total)
	if b.failed > 0 {
		fmt.Fprintf(b.W, ", %d failed", b.failed)
	}
}

// Lines writes a log line at most every Every (for logs and CI, where a
// redrawn bar is noise), and one per failure.
type Lines struct {
	W     io.Writer
	Now   func() time.Time
	Every time.Duration

	total, done, failed int
	printed             int // done at the last line
	last                time.Time
}

// Start implements Progress.
func (l *Lines) Start(total int) {
	l.total, l.last = total, l.Now()
	fmt.Fprintf(l.W, "warm: %d artifacts to fetch\n", total)
}

// Done implements Progress.
func (l *Lines) Done(r Result) {
	l.done++
	if r.Err != nil {
		l.failed++
		fmt.Fprintf(l.W, "warm: %s failed: %v\n", r.Artifact, r.Err)
	}
	if now := l.Now(); now.Sub(l.last) >= l.Every {
		l.last = now
		l.line()
	}
}

func (l *Lines) line() {
	l.printed = l.done
	fmt.Fprintf(l.W, "warm: %d/%d done, %d failed\n", l.done, l.total, l.failed)
}

// Finish implements Progress: the last count, unless just written.
func (l *Lines) Finish(Summary) {
	if l.printed != l.done {
		l.line()
	}
}
