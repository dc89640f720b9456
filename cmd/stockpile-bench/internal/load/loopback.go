package load

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrRemote is returned for a target that is not on loopback when no
// --target allowed it.
var ErrRemote = errors.New("not a loopback address (only an explicit --target may be remote)")

// CheckLoopback refuses URLs whose host is not loopback unless allowRemote.
func CheckLoopback(rawURL string, allowRemote bool) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("target %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("target %q: scheme must be http or https", rawURL)
	}
	if u.Host == "" {
		return fmt.Errorf("target %q: no host", rawURL)
	}
	if allowRemote || IsLoopbackHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("target %q: %w", rawURL, ErrRemote)
}

// IsLoopbackHost reports whether host (no port) names the loopback
// interface without asking a resolver.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FreePort asks the kernel for a free port on 127.0.0.1. The port
// may be taken by someone else before it is used: callers retry.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
