package npm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// handler serves one mounted repository group.
type handler struct {
	f   *Format
	res formats.Resolver
}

// packumentCacheControl: packuments are revalidated on every use (cheap:
// the engine keeps them rendered and answers If-None-Match with 304), so a
// publish, a dist-tag change or a deprecation is seen at once by npm, whose
// cache otherwise honours max-age (RFC 9111 §5.2.2.4 for no-cache). no-cache
// also keeps shared caches from reusing answers given to authenticated
// requests.
const packumentCacheControl = "no-cache"

var errNoRoute = fmt.Errorf("%w: npm: no such endpoint", formats.ErrNotFound)

// restPath returns the escaped path below the repository endpoint, without
// its leading slash.
func restPath(c echo.Context) string {
	rest, _ := formats.RepoFrom(c).Below(c.Request().URL.EscapedPath())
	return strings.TrimPrefix(rest, "/")
}

// serve dispatches every request of the group. It is long because it is
// the routing table: one case per endpoint with the methods it allows.
func (h *handler) serve(c echo.Context) error {
	req := c.Request()
	rt, err := parsePath(restPath(c))
	if err != nil {
		return err
	}
	m := req.Method
	get := m == http.MethodGet || m == http.MethodHead
	switch rt.kind {
	case routePackument:
		switch {
		case get:
			return h.packument(c, rt)
		case m == http.MethodPut:
			return h.put(c, rt)
		}
		return formats.MethodNotAllowed(c, "npm", "GET", "HEAD", "PUT")
	case routePackumentRev:
		switch m {
		case http.MethodPut:
			return h.put(c, rt)
		case http.MethodDelete:
			return h.unpublishAll(c, rt)
		}
		return formats.MethodNotAllowed(c, "npm", "PUT", "DELETE")
	case routeVersion:
		return readOnly(c, rt, h.version)
	case routeTarball:
		return readOnly(c, rt, h.tarball)
	case routeTarballRev:
		if m == http.MethodDelete {
			// npm unpublish removes the version with the document PUT,
			// then deletes the tarball: nothing is left to do.
			return c.JSON(http.StatusOK, map[string]any{"ok": true})
		}
		return formats.MethodNotAllowed(c, "npm", "DELETE")
	case routePing:
		if get {
			return c.JSON(http.StatusOK, map[string]any{})
		}
	case routeWhoami:
		if get {
			return c.JSON(http.StatusOK, map[string]string{"username": formats.RepoFrom(c).User})
		}
	case routeSearch:
		if get {
			return h.search(c)
		}
	case routeKeys:
		if get {
			return h.keys(c)
		}
	case routeAudit:
		if m == http.MethodPost {
			return h.audit(c, rt)
		}
		return formats.MethodNotAllowed(c, "npm", "POST")
	case routeDistTags:
		return readOnly(c, rt, h.distTags)
	case routeDistTag:
		switch m {
		case http.MethodPut, http.MethodPost:
			return h.setDistTag(c, rt)
		case http.MethodDelete:
			return h.deleteDistTag(c, rt)
		case http.MethodGet, http.MethodHead:
			return h.distTags(c, rt)
		}
		return formats.MethodNotAllowed(c, "npm", "PUT", "POST", "DELETE")
	case routeUser, routeLogin:
		return fmt.Errorf("%w: npm login and adduser are not supported: get a token with `aws codeartifact login --tool npm` or GetAuthorizationToken and set it as _authToken for this registry", formats.ErrNotAllowed)
	}
	return errNoRoute
}

// readOnly serves a GET or HEAD of rt with serve, and answers any other
// method with 405 naming GET and HEAD.
func readOnly(c echo.Context, rt route, serve func(echo.Context, route) error) error {
	if m := c.Request().Method; m == http.MethodGet || m == http.MethodHead {
		return serve(c, rt)
	}
	return formats.MethodNotAllowed(c, "npm", "GET", "HEAD")
}

// wantsCorgi applies the negotiation rule of npm's abbreviated metadata
// (npm/registry, docs/responses/package-metadata.md; RFC 9110 §12.5.1): the
// abbreviated packument when Accept names application/vnd.npm.install-v1+json
// with q > 0 and not lower than what application/json gets.
func wantsCorgi(accept []string) bool {
	qCorgi, qJSON := -1.0, -1.0
	specJSON := 0 // how specific the range that set qJSON was
	for _, h := range accept {
		for part := range strings.SplitSeq(h, ",") {
			mt, q := mediaRange(part)
			switch {
			case strings.EqualFold(mt, mediaCorgi):
				qCorgi = max(qCorgi, q)
			case strings.EqualFold(mt, mediaJSON):
				qJSON, specJSON = q, 3
			case strings.EqualFold(mt, "application/*") && specJSON < 2:
				qJSON, specJSON = q, 2
			case mt == "*/*" && specJSON < 1:
				qJSON, specJSON = q, 1
			}
		}
	}
	return qCorgi > 0 && qCorgi >= qJSON
}

// mediaRange returns the media range of one Accept element, as written
// (compare it case-insensitively), and its q (1 when absent or malformed).
// It allocates nothing: every install asks for a packument with an Accept
// header to negotiate.
func mediaRange(s string) (string, float64) {
	mt, params, _ := strings.Cut(s, ";")
	q := 1.0
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
	}
	return strings.TrimSpace(mt), q
}

// packument serves GET/HEAD /{pkg}.
func (h *handler) packument(c echo.Context, rt route) error {
	req := c.Request()
	ref := formats.RepoFrom(c)
	if req.URL.RawQuery != "" && req.URL.Query().Get("write") == "true" {
		// Write commands (deprecate, unpublish, owner) edit what they read:
		// build it from upstream documents revalidated now, not from caches.
		v, err := h.res.View(formats.Fresh(req.Context()), ref, rt.pkg)
		if err != nil {
			return err
		}
		doc, err := renderPackument(v, ref.Base, false)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(doc.Body)
		doc.ETag = `"` + hex.EncodeToString(sum[:16]) + `"`
		return formats.ServeRendered(c, doc, "no-store", "Accept")
	}
	corgi := wantsCorgi(req.Header.Values("Accept"))
	variant := "full\x00" + ref.Base
	if corgi {
		variant = "corgi\x00" + ref.Base
	}
	doc, err := h.res.Render(req.Context(), ref, rt.pkg, variant, func(v *formats.View) (*formats.Rendered, error) {
		return renderPackument(v, ref.Base, corgi)
	})
	if err != nil {
		return err
	}
	return formats.ServeRendered(c, doc, packumentCacheControl, "Accept")
}

// version serves GET/HEAD /{pkg}/{version-or-tag}.
func (h *handler) version(c echo.Context, rt route) error {
	if len(rt.spec) > maxVersionLen {
		return fmt.Errorf("%w: npm: version or tag is too long", formats.ErrInvalid)
	}
	req := c.Request()
	ref := formats.RepoFrom(c)
	variant := "version\x00" + rt.spec + "\x00" + ref.Base
	render := func(v *formats.View) (*formats.Rendered, error) { return renderVersion(v, ref.Base, rt.spec) }
	doc, err := h.res.Render(req.Context(), ref, rt.pkg, variant, render)
	if _, exact := parseSemver(rt.spec); exact && errors.Is(err, formats.ErrNotFound) {
		// An exact version the cached metadata lacks may have just been
		// published upstream: ask again before answering 404.
		doc, err = h.res.Render(formats.Fresh(req.Context()), ref, rt.pkg, variant, render)
	}
	if err != nil {
		return err
	}
	return formats.ServeRendered(c, doc, packumentCacheControl, "Accept")
}

// tarball serves GET/HEAD /{pkg}/-/{name}-{version}.tgz through the engine,
// which fetches, verifies and retains it on first use.
func (h *handler) tarball(c echo.Context, rt route) error {
	req := c.Request()
	c.Response().Header().Set("Content-Type", "application/octet-stream")
	return h.res.ServeAsset(c.Response(), req, formats.RepoFrom(c), rt.pkg, rt.spec, rt.file)
}

// keys serves GET /-/npm/v1/keys from the upstream, so that npm audit
// signatures can check the upstream's dist.signatures.
func (h *handler) keys(c echo.Context) error {
	req := c.Request()
	g, err := h.res.Upstream(req.Context(), formats.RepoFrom(c), "npm")
	if err != nil {
		return err
	}
	doc, err := g.Get(req.Context(), "-/npm/v1/keys", mediaJSON)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, mediaJSON, doc.Body)
}
