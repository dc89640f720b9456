package upstream

import (
	"net"
	"net/http"
	"strings"
	"time"
)

// maxRedirects is how many redirects one request follows.
const maxRedirects = 10

// newHTTPClient builds the connection's own http.Client: a dedicated
// transport (timeouts from Options, no transparent decompression so artifact
// bytes arrive exactly as sent, the address rule of dialGuard), credentials
// added per hop, and a redirect limit and the origin rule of checkTarget on
// every redirect.
func (cn *Conn) newHTTPClient() *http.Client {
	guard := &dialGuard{
		conn:   cn.conn.Name,
		allow:  cn.opts.AllowPrivateNetworks,
		dialer: &net.Dialer{Timeout: cn.opts.Timeout, KeepAlive: 30 * time.Second},
	}
	if cn.base != nil {
		guard.own = cn.base.Hostname()
	}
	tr := &http.Transport{
		Proxy:                 guard.proxy(http.ProxyFromEnvironment),
		DialContext:           guard.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   max(cn.opts.MaxConcurrent, 2),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cn.opts.Timeout,
		ResponseHeaderTimeout: cn.opts.Timeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
	return &http.Client{
		Transport: &authTransport{base: tr, conn: cn},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return tooManyRedirects{n: maxRedirects}
			}
			return cn.checkTarget(req.URL)
		},
	}
}

// authTransport adds the connection's credentials to requests for the
// connection's own origin (scheme and host:port of the base URL) and removes
// any Authorization header from requests to other origins, so that a
// redirect to a file host never receives them.
type authTransport struct {
	base http.RoundTripper
	conn *Conn
}

// RoundTrip implements http.RoundTripper; it never modifies req.
func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	own := t.conn.base != nil && strings.EqualFold(req.URL.Scheme, t.conn.base.Scheme) &&
		strings.EqualFold(req.URL.Host, t.conn.base.Host)
	switch {
	case own && t.conn.authHdr != "":
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", t.conn.authHdr)
	case !own && req.Header.Get("Authorization") != "":
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
	}
	return t.base.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// wrapped transport.
func (t *authTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
