package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stockpile-proxy/stockpile/storage"
)

// failed wraps the error of operation op, adding storage.ErrUnavailable when
// it says the database could not be reached or went away (so the caller
// answers "try again later", not "not found" or "internal error").
func failed(op string, err error) error {
	if unreachable(err) {
		return fmt.Errorf("postgres: %s: %w: %w", op, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unreachable reports whether err is a failure of the connection to the
// database rather than an answer from it: a refused or broken connection,
// or one of the SQLSTATEs PostgreSQL sends when it cannot serve the
// session (class 08, connection exception; 57P01–57P03, the server
// shutting down or starting; class 53, insufficient resources such as too
// many connections). See https://www.postgresql.org/docs/current/errcodes-appendix.html.
// A canceled or timed-out context is the caller's, not an outage.
func unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"),
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03":
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// reachEvery bounds how often WriteBlob checks that the database and the
// object store answer while they do.
const reachEvery = time.Second

// checker is what an object store offers to tell whether it answers
// (storage/s3's Client: a HeadBucket).
type checker interface {
	Check(ctx context.Context) error
}

// reachable fails, wrapping storage.ErrUnavailable, when the database or
// the object store does not answer; after a success it does not ask again
// for reachEvery. WriteBlob calls it before it reads its first byte, so
// that a caller that streams what it writes to a client (a fetch from an
// upstream) answers 503 before it has sent anything, rather than cutting
// its answer short when the commit fails.
func (s *Store) reachable(ctx context.Context) error {
	if last := s.reachedAt.Load(); last != 0 && s.now().Sub(time.Unix(0, last)) < reachEvery {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := s.pool.Ping(pctx)
	if err == nil {
		if c, ok := s.objects.(checker); ok {
			err = c.Check(pctx)
		}
	}
	switch {
	case err == nil:
		s.reachedAt.Store(s.now().UnixNano())
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("postgres: write blob: %w", ctx.Err())
	case errors.Is(err, storage.ErrUnavailable) || unreachable(err) || pctx.Err() != nil:
		return fmt.Errorf("postgres: write blob: %w: %w", storage.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: write blob: %w", err)
}
