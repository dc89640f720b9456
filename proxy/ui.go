package proxy

import (
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/webui"
)

// mountUI adds the web interface (/-/ui/, and / redirecting there).
func (s *Server) mountUI(e *echo.Echo, fs []formats.Format) error {
	o := webui.Options{
		Catalog: s.registry, Contents: s.resolver, Records: s.store, Blobs: s.store, Versions: s.resolver, Refresher: s.resolver, Editor: s.registry, Metrics: s.metrics.reg, Errors: &s.recent, Collect: s.CollectSoon, Formats: fs,
		Authenticator: uiIdentities{s}, AnonymousRead: s.cfg.Auth.AnonymousRead,
		ARNs: s.arns(), BaseURL: s.baseURL, Now: s.now, Log: s.log, Indexed: s.hooks.Indexed,
	}
	if s.access != nil {
		o.Authorizer = s.access
	}
	h, err := webui.New(o)
	if err != nil {
		return err
	}
	h.Mount(e)
	return nil
}

// uiIdentities signs visitors of the web interface in with the tokens the
// data plane accepts, under the same rules (see authenticate).
type uiIdentities struct{ s *Server }

func (u uiIdentities) Identify(tok string) (webui.Identity, bool) {
	s := u.s
	if s.access == nil || tok == "" {
		return webui.Identity{}, false
	}
	if t, ok := s.scoped.Lookup(tok); ok {
		p := s.scopedPrincipal(t)
		return webui.Identity{Name: p.ARN, Principal: p, Domain: t.Domain, Expires: t.Expires}, true
	}
	claims, err := s.tokens.Verify(tok)
	if err != nil {
		return webui.Identity{}, false
	}
	p, ok := s.access.Key(claims.KeyID)
	if !ok || p.ARN != claims.Principal || claims.Issued.Before(p.NotBefore) {
		return webui.Identity{}, false
	}
	return webui.Identity{Name: p.ARN, Principal: p, Domain: claims.Domain, Expires: claims.Expires}, true
}

// maxRecentErrors is how many failed requests the operations view lists.
const maxRecentErrors = 50

// recentErrors keeps the last requests answered with a 5xx, for the web
// interface's operations view: when, what, the request id to find the
// detail in the log, and the short reason the client was given.
type recentErrors struct {
	mu   sync.Mutex
	buf  [maxRecentErrors]webui.RecentError
	next int
	n    int
}

func (r *recentErrors) add(e webui.RecentError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = e
	r.next = (r.next + 1) % maxRecentErrors
	r.n = min(r.n+1, maxRecentErrors)
}

// Recent returns the kept errors, newest first.
func (r *recentErrors) Recent() []webui.RecentError {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]webui.RecentError, 0, r.n)
	for i := 1; i <= r.n; i++ {
		out = append(out, r.buf[(r.next-i+maxRecentErrors)%maxRecentErrors])
	}
	return out
}

// noteError records a request answered with a 5xx.
func (s *Server) noteError(c echo.Context, status int, message string) {
	req := c.Request()
	s.recent.add(webui.RecentError{Time: s.now().UTC(), RequestID: c.Response().Header().Get(requestIDHeader),
		Method: req.Method, Path: req.URL.Path, Status: status, Message: message})
}
