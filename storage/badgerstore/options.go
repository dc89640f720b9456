package badgerstore

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Defaults applied by Open to zero Options fields.
const (
	// DefaultGCInterval is how often the value log is garbage collected.
	DefaultGCInterval = 5 * time.Minute
)

// Badger tuning for a server process with a modest memory budget. Large
// records (cached upstream documents) are above valueThreshold, so they live
// in the value log and the LSM tree only holds small pointers to them; blobs
// are files of their own (blobfile.go).
const (
	// Blobs are files, so Badger takes only records: small memtables fill
	// and flush often enough that memory settles within a minute or two,
	// where a large one fills for hours on a proxy's trickle of record
	// writes, and each flush needs less memory for its table.
	memTableSize = 4 << 20
	// inMemoryMemTableSize is larger because badger wants a memtable's
	// largest batch (15 %) to hold the largest value, maxInMemoryValue.
	inMemoryMemTableSize = 8 << 20
	numMemtables         = 2
	valueThreshold       = 32 << 10
	valueLogFileSize     = 256 << 20
	numCompactors        = 2
	gcDiscardRatio       = 0.5
)

// Options configures Open.
type Options struct {
	// Dir is the database directory; required unless InMemory.
	Dir string `yaml:"dir"`
	// InMemory keeps the records in memory and the blobs in a temporary
	// directory removed by Close (tests); Dir must then be empty.
	InMemory bool
	// GCInterval is the period of value-log garbage collection: zero means
	// DefaultGCInterval, a negative value disables it. Unused when InMemory.
	GCInterval time.Duration
	// MinFreeSpace is the free space, in bytes, below which writes are
	// refused with an error wrapping syscall.ENOSPC (see
	// DefaultMinFreeSpace): zero means the default, a negative value
	// disables the check. Unused when InMemory.
	MinFreeSpace int64
}

// withDefaults validates o and fills in zero fields.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.InMemory && o.Dir != "":
		return o, fmt.Errorf("badgerstore: options: Dir %q set with InMemory", o.Dir)
	case !o.InMemory && o.Dir == "":
		return o, fmt.Errorf("badgerstore: options: Dir is required unless InMemory")
	}
	if o.GCInterval == 0 {
		o.GCInterval = DefaultGCInterval
	}
	if o.MinFreeSpace == 0 {
		o.MinFreeSpace = DefaultMinFreeSpace
	}
	if o.InMemory {
		o.MinFreeSpace = -1
	}
	return o, nil
}

// maxInMemoryValue is badger's largest value threshold, and so the largest
// value an in-memory store holds.
const maxInMemoryValue = 1 << 20

// badgerOptions translates o (already defaulted) for badger.
func (o Options) badgerOptions(log *slog.Logger) badger.Options {
	bo := badger.DefaultOptions(o.Dir)
	threshold, memtable := int64(valueThreshold), int64(memTableSize)
	if o.InMemory {
		// Without a value log every value lives in the LSM tree, and badger
		// refuses values above the threshold: raise it to badger's maximum.
		bo = badger.DefaultOptions("").WithInMemory(true)
		threshold, memtable = maxInMemoryValue, inMemoryMemTableSize
	}
	// Tables are not compressed, so badger needs no block cache and reads
	// a table's blocks and index straight from its memory-mapped file:
	// page cache the kernel reclaims, not heap that grows with the data
	// read. Record values are small or already compressed (doccodec.go in
	// the resolver), so compression would save little disk.
	return bo.
		WithLogger(slogAdapter{log: log}).
		WithMetricsEnabled(false).
		WithMemTableSize(memtable).
		WithNumMemtables(numMemtables).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithValueThreshold(threshold).
		WithValueLogFileSize(valueLogFileSize).
		WithNumCompactors(numCompactors)
}
