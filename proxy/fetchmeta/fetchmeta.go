// Package fetchmeta tells requests a browser sent on behalf of a page of
// another origin, from the headers browsers add to every request: Fetch
// Metadata's Sec-Fetch-Site (W3C Fetch Metadata Request Headers) and
// Origin (RFC 6454).
package fetchmeta

import (
	"net/http"
	"net/url"
	"strings"
)

// CrossSite reports whether a browser marked req as sent by a page of
// another origin: Sec-Fetch-Site other than same-origin or none (a user's
// own navigation), or an Origin whose host is not the request's Host.
// Requests from non-browser clients carry neither header and are not
// cross-site.
func CrossSite(req *http.Request) bool {
	switch req.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	o := req.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return true // "null" (opaque origins) and garbage
	}
	return !strings.EqualFold(u.Host, req.Host)
}
