package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/stockpile-proxy/stockpile/storage"
)

// ErrTooBig is wrapped by Apply when the mutations do not fit in one Badger
// transaction; nothing has been written then.
var ErrTooBig = errors.New("badgerstore: too many mutations for one transaction")

// scanPrefetch bounds how many values Scan reads ahead; cached upstream
// documents can be large.
const scanPrefetch = 16

// Get returns a copy of the value at key. It returns an error wrapping
// storage.ErrNotFound when the key is absent or expired, storage.ErrClosed
// after Close, ctx's error if ctx is done, and any other failure as itself
// (wrapped), never as not-found. Keys in the reserved blob space are refused.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := checkRecordKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("badgerstore: get: %w", err)
	}
	var val []byte
	err := s.use(func(db *badger.DB) error {
		return db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(key)
			if err != nil {
				return err
			}
			val, err = item.ValueCopy(nil)
			return err
		})
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return nil, fmt.Errorf("badgerstore: get %q: %w", key, storage.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("badgerstore: get %q: %w", key, err)
	}
	return val, nil
}

// Put stores value at key. A ttl above zero expires the record after at
// least ttl and less than ttl plus one second (Badger counts in seconds). It
// returns storage.ErrClosed after Close, ctx's error if ctx is done, and
// Badger's errors wrapped. Keys in the reserved blob space are refused.
func (s *Store) Put(ctx context.Context, key, value []byte, ttl time.Duration) error {
	if err := checkRecordKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("badgerstore: put: %w", err)
	}
	if err := s.checkSpace(); err != nil {
		return err
	}
	err := s.use(func(db *badger.DB) error {
		return db.Update(func(txn *badger.Txn) error {
			return txn.SetEntry(newEntry(key, value, ttl))
		})
	})
	if err != nil {
		return fmt.Errorf("badgerstore: put %q: %w", key, err)
	}
	return nil
}

// Delete removes key; an absent key is not an error. It returns
// storage.ErrClosed after Close, ctx's error if ctx is done, and Badger's
// errors wrapped. Keys in the reserved blob space are refused.
func (s *Store) Delete(ctx context.Context, key []byte) error {
	if err := checkRecordKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("badgerstore: delete: %w", err)
	}
	if err := s.checkSpace(); err != nil {
		return err
	}
	err := s.use(func(db *badger.DB) error {
		return db.Update(func(txn *badger.Txn) error { return txn.Delete(key) })
	})
	if err != nil {
		return fmt.Errorf("badgerstore: delete %q: %w", key, err)
	}
	return nil
}

// Scan calls fn for every record whose key starts with prefix, in key order,
// from one consistent snapshot. Blob keys are never visited. fn's error stops
// the scan and is returned as is; otherwise Scan returns storage.ErrClosed
// after Close, ctx's error (wrapped) if ctx ends, and Badger's errors
// wrapped. A prefix in the reserved blob space is refused.
func (s *Store) Scan(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error {
	return s.ScanExpiry(ctx, prefix, func(key, value []byte, _ time.Time) error { return fn(key, value) })
}

// ScanExpiry is Scan that also gives each record's expiry time (zero for a
// record without a TTL), for copying records to another store with the
// time they have left (stockpile migrate).
func (s *Store) ScanExpiry(ctx context.Context, prefix []byte, fn func(key, value []byte, expires time.Time) error) error {
	if len(prefix) > 0 && prefix[0] == reservedByte {
		return fmt.Errorf("badgerstore: scan prefix %q is in the reserved blob space", prefix)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("badgerstore: scan: %w", err)
	}
	var fnErr error
	err := s.use(func(db *badger.DB) error {
		return db.View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			opts.Prefix = prefix
			opts.PrefetchSize = scanPrefetch
			it := txn.NewIterator(opts)
			defer it.Close()
			n := 0
			for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
				if n++; n%256 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				item := it.Item()
				key := item.Key()
				if key[0] == reservedByte {
					return nil // records end where the blob spaces begin
				}
				var expires time.Time
				if at := item.ExpiresAt(); at > 0 {
					expires = time.Unix(int64(at), 0)
				}
				err := item.Value(func(v []byte) error {
					fnErr = fn(key, v, expires)
					return fnErr
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return fmt.Errorf("badgerstore: scan %q: %w", prefix, err)
	}
	return nil
}

// Apply writes all muts in one transaction: all become visible or none. A nil
// Value deletes the key. When the mutations are too many or too large for
// one transaction it returns an error wrapping ErrTooBig and writes nothing.
// It returns storage.ErrClosed after Close, ctx's error if ctx is done, and
// Badger's errors wrapped. Keys in the reserved blob space are refused.
func (s *Store) Apply(ctx context.Context, muts []storage.Mutation) error {
	for _, m := range muts {
		if err := checkRecordKey(m.Key); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("badgerstore: apply: %w", err)
	}
	if len(muts) == 0 {
		return nil
	}
	if err := s.checkSpace(); err != nil {
		return err
	}
	err := s.use(func(db *badger.DB) error {
		txn := db.NewTransaction(true)
		defer txn.Discard()
		for _, m := range muts {
			var err error
			if m.Value == nil {
				err = txn.Delete(m.Key)
			} else {
				err = txn.SetEntry(newEntry(m.Key, m.Value, m.TTL))
			}
			if err != nil {
				return err
			}
		}
		return txn.Commit()
	})
	switch {
	case errors.Is(err, badger.ErrTxnTooBig):
		return fmt.Errorf("badgerstore: apply %d mutations: %w", len(muts), ErrTooBig)
	case err != nil:
		return fmt.Errorf("badgerstore: apply %d mutations: %w", len(muts), err)
	}
	return nil
}

// newEntry builds a Badger entry whose expiry, if any, is rounded up to the
// next whole second so that the record lives at least ttl.
func newEntry(key, value []byte, ttl time.Duration) *badger.Entry {
	if value == nil {
		value = []byte{}
	}
	e := badger.NewEntry(key, value)
	if ttl > 0 {
		at := time.Now().Add(ttl)
		secs := at.Unix()
		if at.Nanosecond() > 0 {
			secs++
		}
		e.ExpiresAt = uint64(secs)
	}
	return e
}
