package formats

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/labstack/echo/v4"
)

// ErrBusy is returned when the server takes no more publishes for now: 429
// with Retry-After (see BusyError).
var ErrBusy = errors.New("busy")

// BusyError is an ErrBusy that tells the client when to try again.
type BusyError struct {
	Message    string
	RetryAfter time.Duration
}

func (e *BusyError) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Unwrap() error { return ErrBusy }

// Default intake limits, for a server whose configuration leaves them out.
const (
	DefaultMaxPublishSize  = 2 << 30
	DefaultMaxMetadataSize = 4 << 20
)

// Intake bounds what one publish request may send. The server derives it
// from its configuration and hands it to the format handlers with the
// request (WithIntake); a handler reads no more than these bounds allow,
// into memory or onto disk.
type Intake struct {
	// MaxPublishSize bounds one published file (max_publish_size).
	MaxPublishSize int64
	// MaxMetadataSize bounds what comes with the file and is held in
	// memory: npm's JSON outside the tarball, Cargo's metadata, form
	// fields, a manifest read from an archive (max_metadata_size).
	MaxMetadataSize int64
	// SpoolDir is the directory that holds bodies while they are checked,
	// below the data directory; empty, nothing can be spooled.
	SpoolDir string
}

// Body is the most a request that carries one published file may send:
// the file, its metadata, and framing.
func (in Intake) Body() int64 { return in.MaxPublishSize + in.MaxMetadataSize }

// WithIntake stores in for the format handlers.
func WithIntake(c echo.Context, in Intake) { c.Set("stockpile.intake", in) }

// IntakeFrom returns the request's intake limits: the defaults, with no
// spool directory, when the server set none.
func IntakeFrom(c echo.Context) Intake {
	if in, ok := c.Get("stockpile.intake").(Intake); ok {
		return in
	}
	return Intake{MaxPublishSize: DefaultMaxPublishSize, MaxMetadataSize: DefaultMaxMetadataSize}
}

// TooLarge is the error of a body over its bound.
func TooLarge(format, what string, limit int64) error {
	return fmt.Errorf("%w: %s: %s is larger than %d bytes", ErrTooLarge, format, what, limit)
}

// Spool is a temporary file that holds a request body, or a part of one,
// while it is checked: written once up to a limit, then read as often as
// needed. Close removes it.
type Spool struct {
	f     *os.File
	n     int64
	limit int64
	what  string // for the error past the limit ("npm: the tarball")
}

// NewSpool creates a spool of at most limit bytes in the intake's spool
// directory. what names its content in the error returned past the limit.
func (in Intake) NewSpool(limit int64, what string) (*Spool, error) {
	if in.SpoolDir == "" {
		return nil, errors.New("formats: no spool directory")
	}
	f, err := os.CreateTemp(in.SpoolDir, "spool-*")
	if err != nil {
		return nil, fmt.Errorf("formats: spool: %w", err)
	}
	return &Spool{f: f, limit: limit, what: what}, nil
}

// Write appends p; past the limit nothing more is written and the error
// wraps ErrTooLarge.
func (s *Spool) Write(p []byte) (int, error) {
	if s.n+int64(len(p)) > s.limit {
		return 0, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, s.what, s.limit)
	}
	n, err := s.f.Write(p)
	s.n += int64(n)
	return n, err
}

// Size is the number of bytes written.
func (s *Spool) Size() int64 { return s.n }

// ReadAt implements io.ReaderAt over what was written.
func (s *Spool) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.n {
		return 0, io.EOF
	}
	if rest := s.n - off; int64(len(p)) > rest {
		n, err := s.f.ReadAt(p[:rest], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return s.f.ReadAt(p, off)
}

// Reader returns a reader of everything written, from the start.
func (s *Spool) Reader() *io.SectionReader { return io.NewSectionReader(s, 0, s.n) }

// Close closes and removes the file.
func (s *Spool) Close() error {
	err := s.f.Close()
	if rerr := os.Remove(s.f.Name()); err == nil {
		err = rerr
	}
	return err
}

// LimitBody returns a reader of r that fails with an ErrTooLarge error
// once more than limit bytes were read; format and what name the body in
// the message ("npm", "the request body").
func LimitBody(r io.Reader, limit int64, format, what string) io.Reader {
	return &limitedBody{r: r, left: limit, limit: limit, format: format, what: what}
}

type limitedBody struct {
	r            io.Reader
	left, limit  int64
	format, what string
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, TooLarge(l.format, l.what, l.limit)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n - int(-l.left), TooLarge(l.format, l.what, l.limit)
	}
	return n, err
}
