package proxy

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/stockpile-proxy/stockpile/proxy/fetchmeta"

	"github.com/labstack/echo/v4"
)

// openModeGuard protects a server without access keys from web pages the
// user's browser runs. Open mode trusts whoever can reach the loopback
// port; a page elsewhere can reach it too, through the browser:
//
//   - DNS rebinding: a name the attacker controls resolves to 127.0.0.1, so
//     the browser treats Stockpile as the attacker's own origin. Such a
//     request carries the attacker's name in Host, so only loopback names and
//     addresses (and base_url's host) are answered.
//   - Cross-site requests ("simple" POSTs with text/plain bodies need no
//     CORS preflight): browsers mark them with Origin (RFC 6454) and
//     Sec-Fetch-Site (W3C Fetch Metadata). Unsafe methods and every /v1
//     call so marked are refused. Package managers send neither header.
//
// With access keys the guard does nothing: SigV4 and tokens protect writes.
func (s *Server) openModeGuard(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.cfg.Open() {
			return next(c)
		}
		req := c.Request()
		if !s.localHost(req.Host) {
			return echo.NewHTTPError(http.StatusForbidden,
				"open mode (no access keys) answers only requests addressed to localhost or a loopback address; "+
					"set base_url for another name, or configure auth.access_keys")
		}
		if fetchmeta.CrossSite(req) && (!safeMethod(req.Method) || strings.HasPrefix(req.URL.Path, "/v1/")) {
			return echo.NewHTTPError(http.StatusForbidden,
				"open mode (no access keys) refuses cross-site requests from web pages")
		}
		return next(c)
	}
}

// localHost reports whether a Host header names this machine's loopback
// interface ("localhost", "*.localhost" (RFC 6761), 127.0.0.0/8, ::1), with
// any port, or base_url's host.
func (s *Server) localHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Unmap().IsLoopback() {
		return true
	}
	if s.cfg.BaseURL != "" {
		if u, err := url.Parse(s.cfg.BaseURL); err == nil && strings.EqualFold(u.Host, host) {
			return true
		}
	}
	return false
}

// safeMethod reports whether m is safe in the sense of RFC 9110 9.2.1.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
