package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stockpile-proxy/stockpile/storage"
)

// live is the condition of a record that has not expired, by the server's
// clock, so every replica agrees.
const live = `(expires IS NULL OR expires > clock_timestamp())`

// expiry is the expires value of a record put with a TTL of $n
// microseconds (NULL for no TTL).
func expiry(n int) string {
	return fmt.Sprintf(`CASE WHEN $%d::bigint > 0 THEN clock_timestamp() + $%d::bigint * interval '1 microsecond' END`, n, n)
}

var putSQL = `INSERT INTO records (key, value, expires) VALUES ($1, $2, ` + expiry(3) + `)
	ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires`

// Get returns the value at key, or storage.ErrNotFound.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM records WHERE key = $1 AND `+live, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, failed("get", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Put stores value at key; a ttl above zero makes it expire.
func (s *Store) Put(ctx context.Context, key, value []byte, ttl time.Duration) error {
	if err := s.check(); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	if _, err := s.pool.Exec(ctx, putSQL, key, value, ttl.Microseconds()); err != nil {
		return failed("put", err)
	}
	return nil
}

// Delete removes key.
func (s *Store) Delete(ctx context.Context, key []byte) error {
	if err := s.check(); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM records WHERE key = $1`, key); err != nil {
		return failed("delete", err)
	}
	return nil
}

// Scan calls fn for every live record under prefix, in key order (bytea
// compares bytewise), from one statement's snapshot.
func (s *Store) Scan(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error {
	if err := s.check(); err != nil {
		return err
	}
	q, args := `SELECT key, value FROM records WHERE `+live, []any{}
	if len(prefix) > 0 {
		q += ` AND key >= $1`
		args = append(args, prefix)
		if end := prefixEnd(prefix); end != nil {
			q += ` AND key < $2`
			args = append(args, end)
		}
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY key`, args...)
	if err != nil {
		return failed("scan", err)
	}
	defer rows.Close()
	for rows.Next() {
		raw := rows.RawValues()
		if err := fn(raw[0], raw[1]); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return failed("scan", err)
	}
	return nil
}

// prefixEnd is the least key greater than every key starting with prefix,
// or nil when there is none (a prefix of 0xff bytes).
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Apply writes every mutation in one transaction.
func (s *Store) Apply(ctx context.Context, muts []storage.Mutation) error {
	if err := s.check(); err != nil {
		return err
	}
	if len(muts) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, m := range muts {
			if m.Value == nil {
				b.Queue(`DELETE FROM records WHERE key = $1`, m.Key)
				continue
			}
			b.Queue(putSQL, m.Key, m.Value, m.TTL.Microseconds())
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return failed("apply", err)
	}
	return nil
}
