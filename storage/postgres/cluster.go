package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The coordination of several replicas on one database: advisory locks
// across processes, leadership of background jobs, and a change feed that
// tells every replica when records changed. See PostgreSQL's documentation
// of advisory locks (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS)
// and of LISTEN/NOTIFY (https://www.postgresql.org/docs/current/sql-notify.html).

// lockKey turns a lock name into the 64-bit key of an advisory lock.
const lockKey = `hashtextextended($1, 0)`

// Lock takes the cluster-wide lock name, waiting until it is free or ctx
// ends. The lock is a session-level advisory lock held on a connection of
// its own, so it is released when unlock is called, or by PostgreSQL when
// this process dies or loses its connection: another replica then gets it
// within the time it takes PostgreSQL to notice (at once for a killed
// process, whose socket closes).
func (s *Store) Lock(ctx context.Context, name string) (unlock func(), err error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	conn, err := s.lockPool.Acquire(ctx)
	if err != nil {
		return nil, failed("lock "+name, err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`, name); err != nil {
		// A canceled wait may leave the connection mid-query: drop it.
		conn.Conn().Close(context.Background())
		conn.Release()
		return nil, failed("lock "+name, err)
	}
	s.holding(conn, true)
	return func() { s.unlock(conn, name) }, nil
}

// TryLock takes the lock name if it is free, without waiting; ok reports
// whether it did.
func (s *Store) TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	if err := s.check(); err != nil {
		return nil, false, err
	}
	conn, err := s.lockPool.Acquire(ctx)
	if err != nil {
		return nil, false, failed("lock "+name, err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lockKey+`)`, name).Scan(&ok); err != nil {
		conn.Conn().Close(context.Background())
		conn.Release()
		return nil, false, failed("lock "+name, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	s.holding(conn, true)
	return func() { s.unlock(conn, name) }, true, nil
}

// unlock releases a lock and its connection; when the unlock statement
// fails, closing the connection ends the session, which releases it.
func (s *Store) unlock(conn *pgxpool.Conn, name string) {
	if !s.holding(conn, false) {
		return // Close ended the session, and with it the lock
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(`+lockKey+`)`, name); err != nil {
		conn.Conn().Close(ctx)
	}
	conn.Release()
}

// changesChannel is the channel records' changes are announced on.
const changesChannel = "stockpile_changes"

// Watch calls changed whenever records may have changed, from any replica
// (this one included), until ctx ends. It listens for notifications on a
// connection of its own and, every poll, also compares the change counter
// with the value it last saw, so a notification lost while the connection
// was down delays changed by at most about poll. While the database cannot
// be reached it calls changed once per failed attempt to reconnect, since
// it cannot tell what it missed.
func (s *Store) Watch(ctx context.Context, poll time.Duration, changed func()) {
	var seen int64 = -1
	for ctx.Err() == nil {
		err := s.watch(ctx, poll, &seen, changed)
		if ctx.Err() != nil || s.closed.Load() {
			return
		}
		s.log.Warn("watching for changes; reconnecting", "err", err)
		changed()
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
}

// watch listens on one connection until it fails.
func (s *Store) watch(ctx context.Context, poll time.Duration, seen *int64, changed func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+changesChannel); err != nil {
		return err
	}
	for {
		var n int64
		if err := conn.QueryRow(ctx, `SELECT last_value FROM changes`).Scan(&n); err != nil {
			return err
		}
		if n != *seen {
			if *seen != -1 {
				changed()
			}
			*seen = n
		}
		wctx, cancel := context.WithTimeout(ctx, poll)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			// The trigger counts before it notifies, so the next turn's
			// read of the counter sees this change.
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
		default:
			return err
		}
	}
}

// holding records (held) or forgets a connection that holds a lock; it
// reports whether the connection was recorded.
func (s *Store) holding(conn *pgxpool.Conn, held bool) bool {
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	if held {
		s.locked[conn] = struct{}{}
		return true
	}
	_, ok := s.locked[conn]
	delete(s.locked, conn)
	return ok
}

// releaseLocks ends the sessions of every held lock, which frees them, and
// returns their connections to the pool so that it can close.
func (s *Store) releaseLocks() {
	s.lockMu.Lock()
	held := s.locked
	s.locked = map[*pgxpool.Conn]struct{}{}
	s.lockMu.Unlock()
	for conn := range held {
		conn.Conn().Close(context.Background())
		conn.Release()
	}
}
