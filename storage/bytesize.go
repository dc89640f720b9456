package storage

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes that configuration files may write as a plain
// number or with a unit: 512MiB, 10GiB, 2TB (KiB, MiB, GiB, TiB are powers
// of 1024; KB, MB, GB, TB of 1000).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// UnmarshalText parses a size.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || (n > 0 && mult > (1<<62)/n) {
		return fmt.Errorf("size %q is not a number of bytes with an optional unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB)", text)
	}
	*b = ByteSize(n * mult)
	return nil
}
