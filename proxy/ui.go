package proxy

import (
	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/webui"
)

// mountUI adds the web interface (/-/ui/, and / redirecting there).
func (s *Server) mountUI(e *echo.Echo, fs []formats.Format) error {
	o := webui.Options{
		Catalog: s.registry, Contents: s.resolver, Records: s.store, Versions: s.resolver, Editor: s.registry, Metrics: s.metrics.reg, Collect: s.CollectSoon, Formats: fs,
		Authenticator: uiIdentities{s}, AnonymousRead: s.cfg.Auth.AnonymousRead,
		ARNs: s.arns(), BaseURL: s.baseURL, Now: s.now, Log: s.log,
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
