package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
)

// ErrRefused: Stockpile refused to contact a target that metadata or a
// redirect named, because it is not an origin the connection allows or it
// resolves to a non-public address. It also matches ErrUnavailable (the
// upstream could not answer usefully), so it is never taken for absence.
var ErrRefused error = &sentinel{msg: "refused by the connection's host rules", parent: ErrUnavailable}

// RefusedError says which target was refused and by which rule. Its message
// names the target's origin (never its path, query or credentials) and the
// setting that would allow it; nothing of the target was fetched.
type RefusedError struct {
	Conn   string // external connection name
	Origin string // scheme://host:port of the refused target
	Rule   string // the rule that refused it
}

func (e *RefusedError) Error() string {
	return "upstream " + e.Conn + ": refused to contact " + e.Origin + ": " + e.Rule
}

// Unwrap returns ErrRefused.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Rules a RefusedError names.
const (
	ruleOrigin  = "not the connection's own origin nor one of its allowed_hosts"
	ruleAddress = "it resolves to a loopback, private, link-local, shared (CGNAT) or metadata address; set allow_private_networks on the connection to allow it"
	ruleScheme  = "only http and https are allowed"
)

// hostPattern is one allowed_hosts entry: "files.example.org" (http or https
// on their default ports), "files.example.org:8443" (that port only) or
// "*.example.org" (any subdomain, default ports).
type hostPattern struct {
	host     string // lower case, without brackets; suffix ".example.org" for a wildcard
	port     string // "" for the scheme's default port
	wildcard bool
}

// parseHostPattern parses an allowed_hosts entry.
func parseHostPattern(s string) (hostPattern, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || strings.Contains(s, "/") || strings.Contains(s, "@") {
		return hostPattern{}, fmt.Errorf("allowed_hosts entry %q must be a host name or host:port, not a URL", s)
	}
	var p hostPattern
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		host, p.port = h, port
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		p.wildcard, host = true, "."+rest
	}
	if host == "" || host == "." || strings.Contains(host, "*") {
		return hostPattern{}, fmt.Errorf("allowed_hosts entry %q has no usable host", s)
	}
	p.host = host
	return p, nil
}

// matches reports whether u's host and effective port fit the pattern.
func (p hostPattern) matches(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	if p.wildcard {
		if !strings.HasSuffix(host, p.host) {
			return false
		}
	} else if host != p.host {
		return false
	}
	port := u.Port()
	if p.port == "" {
		return port == "" || port == defaultPort(u.Scheme)
	}
	return port == p.port || (port == "" && p.port == defaultPort(u.Scheme))
}

// defaultPort is the port a URL of scheme uses when it names none.
func defaultPort(scheme string) string {
	if strings.EqualFold(scheme, "https") {
		return "443"
	}
	return "80"
}

// sameOrigin reports whether a and b have the same scheme, host and
// effective port (RFC 6454).
func sameOrigin(a, b *url.URL) bool {
	ap, bp := a.Port(), b.Port()
	if ap == "" {
		ap = defaultPort(a.Scheme)
	}
	if bp == "" {
		bp = defaultPort(b.Scheme)
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && ap == bp
}

// originOf formats u's origin for messages.
func originOf(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + u.Host
}

// checkTarget refuses a URL the connection may not contact: a scheme other
// than http(s), or an origin that is neither the connection's own nor
// matched by its allowed hosts (the catalog's documented file hosts plus
// Options.AllowedHosts). The same host upgraded from http to https on its
// default port counts as the connection's own.
func (cn *Conn) checkTarget(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return &RefusedError{Conn: cn.conn.Name, Origin: u.Scheme + ":", Rule: ruleScheme}
	}
	if u.Host == "" || cn.base == nil {
		return &RefusedError{Conn: cn.conn.Name, Origin: originOf(u), Rule: ruleOrigin}
	}
	if sameOrigin(u, cn.base) {
		return nil
	}
	if u.Scheme == "https" && cn.base.Scheme == "http" && strings.EqualFold(u.Hostname(), cn.base.Hostname()) &&
		(u.Port() == "" || u.Port() == "443") {
		return nil
	}
	for _, p := range cn.allowed {
		if p.matches(u) {
			return nil
		}
	}
	return &RefusedError{Conn: cn.conn.Name, Origin: originOf(u), Rule: ruleOrigin}
}

// allowedPatterns parses the catalog's file hosts and the configured
// allowed hosts; entries were validated by Options.Validate.
func allowedPatterns(cc Connection, o Options) []hostPattern {
	var out []hostPattern
	for _, s := range append(append([]string(nil), cc.FileHosts...), o.AllowedHosts...) {
		if p, err := parseHostPattern(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// publicAddr reports whether a is an address on the public internet: not
// loopback, private (RFC 1918, RFC 4193), link-local (which holds the cloud
// metadata services at 169.254.169.254 and fe80::/10), shared address space
// (RFC 6598, CGNAT), unspecified, multicast, or another special-purpose
// block of the IANA registries (RFC 6890) such as 0.0.0.0/8 and the
// benchmarking block.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// nonPublic are special-purpose blocks that netip's predicates do not cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),         // "this network" (RFC 791)
	netip.MustParsePrefix("100.64.0.0/10"),     // shared address space, CGNAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),      // IETF protocol assignments (RFC 6890)
	netip.MustParsePrefix("198.18.0.0/15"),     // benchmarking (RFC 2544)
	netip.MustParsePrefix("240.0.0.0/4"),       // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),      // NAT64 (RFC 6052): may embed any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),    // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("fd00:ec2::254/128"), // the EC2 metadata service over IPv6
}

// dialGuard applies the address rule at connection time, after DNS
// resolution, so that a name that resolves (or rebinds) to an internal
// address is refused even when its origin is allowed. Dials to the
// connection's own host and to the environment's HTTP proxy are exempt: the
// operator chose those. allow_private_networks exempts everything.
type dialGuard struct {
	conn   string
	own    string // the connection's own host name, lower case
	allow  bool   // allow_private_networks
	dialer *net.Dialer
	// proxies holds the host:port of every proxy the transport was given
	// (http.ProxyFromEnvironment), which are exempt like the own host.
	proxies sync.Map
}

// proxy wraps a Transport.Proxy function to record the proxies it names.
func (g *dialGuard) proxy(next func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	return func(r *http.Request) (*url.URL, error) {
		u, err := next(r)
		if u != nil {
			port := u.Port()
			if port == "" {
				port = defaultPort(u.Scheme)
			}
			g.proxies.Store(strings.ToLower(net.JoinHostPort(u.Hostname(), port)), true)
		}
		return u, err
	}
}

// DialContext dials addr, refusing a non-public address unless exempt.
func (g *dialGuard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if _, isProxy := g.proxies.Load(strings.ToLower(addr)); g.allow || isProxy || strings.EqualFold(host, g.own) {
		return g.dialer.DialContext(ctx, network, addr)
	}
	d := *g.dialer
	d.Control = func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !publicAddr(ap.Addr()) {
			return &RefusedError{Conn: g.conn, Origin: host, Rule: ruleAddress}
		}
		return nil
	}
	return d.DialContext(ctx, network, addr)
}

// isRefused reports whether err comes from a host rule.
func isRefused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}
