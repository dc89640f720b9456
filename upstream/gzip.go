package upstream

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// isGzip reports whether a Content-Encoding is gzip.
func isGzip(enc string) bool {
	enc = strings.ToLower(strings.TrimSpace(enc))
	return enc == "gzip" || enc == "x-gzip"
}

// gzipBody decompresses a document; Close closes the upstream body.
type gzipBody struct {
	zr        *gzip.Reader
	rc        io.ReadCloser
	conn, url string
}

// Read returns decompressed bytes; a corrupt stream gives an error wrapping
// ErrUnavailable, transfer errors pass through as they are.
func (g *gzipBody) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	var re *readError
	if err != nil && err != io.EOF && !errors.As(err, &re) {
		err = &readError{conn: g.conn, url: g.url, err: fmt.Errorf("%w: bad gzip body: %w", ErrUnavailable, err)}
	}
	return n, err
}

// Close closes the upstream body (idempotent).
func (g *gzipBody) Close() error {
	g.zr.Close()
	return g.rc.Close()
}
