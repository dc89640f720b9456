package formattest

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
)

// Gunzip returns the gzip stream b decompressed, or the first error reading
// it: tests check a served gzip body decodes to what the identity one holds.
func Gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// Inflate returns the zlib stream b decompressed (a RubyGems quick
// gemspec's .rz), or the first error reading it.
func Inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
