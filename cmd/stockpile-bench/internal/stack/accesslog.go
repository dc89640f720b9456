package stack

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// AccessCounts counts the requests of nginx's bench access log (log_format
// bench: "$request_method $uri $status $body_bytes_sent") by path.
type AccessCounts map[string]PathCount

// PathCount is what one path was asked.
type PathCount struct {
	Requests int // every method and status
	OK       int // GET answered 200
}

// ParseAccessLog reads a bench-format access log. Lines it cannot read are
// an error: the format is ours.
func ParseAccessLog(r io.Reader) (AccessCounts, error) {
	counts := AccessCounts{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("access log line %d: %q: want method, path, status and bytes", n, line)
		}
		c := counts[f[1]]
		c.Requests++
		if f[0] == "GET" && f[2] == "200" {
			c.OK++
		}
		counts[f[1]] = c
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return counts, nil
}
