// Package webui serves Stockpile's web interface under /-/ui/: server-rendered
// pages (html/template, assets embedded) to sign in, browse domains,
// repositories and packages, and read a package's versions, origins, assets
// and README. Every page works without JavaScript. Each page is authorised
// with the same authorizer, actions and resources as the data and control
// planes (ReadFromRepository on a repository to see it and its packages).
package webui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/microcosm-cc/bluemonday"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/access"
	"github.com/stockpile-proxy/stockpile/proxy/iam"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
)

// Prefix is where the interface is mounted.
const Prefix = "/-/ui"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Catalog is the model the pages read: domains, repositories and their links.
// *model.Registry implements it.
type Catalog interface {
	Domains() []model.DomainInfo
	Repositories(domain string) ([]model.Repository, error)
	Repository(domain, name string) (model.Repository, error)
	UpstreamNames(repo model.Repository) []string
}

// Contents reads what one repository holds (not its upstreams), as the
// control plane's package APIs do. *resolver.Resolver implements it.
type Contents interface {
	PackageRecords(ctx context.Context, domain, repoID, format string) ([]*resolver.PackageRecord, error)
	VersionRecords(ctx context.Context, domain, repoID string, p formats.Package) ([]*resolver.VersionRecord, error)
	Open(ctx context.Context, ref formats.RepoRef, p formats.Package, version, name string) (formats.Content, error)
}

// Scanner walks stored records by key prefix; storage.Records implements it.
type Scanner interface {
	Scan(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error
}

// Authorizer decides an action for a principal; *access.Authorizer
// implements it.
type Authorizer interface {
	Authorize(ctx context.Context, p *access.Principal, action string, t access.Target, write bool) error
	Allowed(p *access.Principal, action string, t access.Target) bool
}

// Identity is who a token stands for.
type Identity struct {
	// Name is shown on the pages (the principal's ARN).
	Name string
	// Principal is what the authorizer decides for.
	Principal *access.Principal
	// Domain is the one domain the token is valid for.
	Domain string
	// Expires is when the token stops being accepted.
	Expires time.Time
}

// Authenticator turns a token (GetAuthorizationToken's or a scoped token)
// into an Identity; it returns false for a token it does not accept.
type Authenticator interface {
	Identify(token string) (Identity, bool)
}

// Options configure a Handler.
type Options struct {
	Catalog  Catalog
	Contents Contents
	// Records counts a repository's version records.
	Records Scanner
	// Blobs lists a domain's stored blobs, for the storage used; may be nil.
	Blobs BlobLister
	// Versions takes the actions on versions.
	Versions Versions
	// Refresher refreshes a package's upstream metadata; nil: not offered.
	Refresher Refresher
	// Metrics are the server's metrics, for the operations view; may be nil.
	Metrics Gatherer
	// Errors are the recent failed requests, for the operations view; may be nil.
	Errors Errors
	// Editor changes repositories (settings, connecting a public repository).
	Editor Editor
	// Collect asks the blob collector to run soon (after a dispose); may be nil.
	Collect func()
	// Formats served: their names, display names and manifests (README).
	Formats []formats.Format
	// Authorizer is nil in open mode (no access keys), where every action is
	// allowed and no sign-in is needed.
	Authorizer    Authorizer
	Authenticator Authenticator
	// AnonymousRead lets a visitor who did not sign in browse (auth.anonymous_read).
	AnonymousRead bool
	// ARNs names resources for the authorizer.
	ARNs iam.ARNs
	// BaseURL returns the public base URL for a request (no trailing slash).
	BaseURL func(*http.Request) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Indexed, when set, is called after a repository's package index was
	// built and kept (tests wait on it for a background rebuild).
	Indexed func()
	Log     *slog.Logger
}

// Handler serves the web interface.
type Handler struct {
	o      Options
	tmpl   map[string]*template.Template
	static http.Handler
	secret []byte // keys the CSRF tokens
	policy *bluemonday.Policy
	idx    indexes
	didx   domainIndexes
}

// New parses the templates and returns a Handler.
func New(o Options) (*Handler, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{o: o, secret: make([]byte, 32), policy: sanitizer()}
	if _, err := rand.Read(h.secret); err != nil {
		return nil, err
	}
	t, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	h.tmpl = t
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	h.static = http.StripPrefix(Prefix+"/static/", http.FileServer(http.FS(sub)))
	return h, nil
}

// Mount adds the routes to e: the pages under Prefix and a redirect from /.
func (h *Handler) Mount(e *echo.Echo) {
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, Prefix+"/") })
	e.GET(Prefix, func(c echo.Context) error { return c.Redirect(http.StatusFound, Prefix+"/") })
	g := e.Group(Prefix, h.headers, h.session)
	g.GET("/static/*", echo.WrapHandler(h.static))
	g.GET("/signin", h.signinPage)
	g.POST("/signin", h.signin, h.csrf)
	g.POST("/signout", h.signout, h.csrf)
	r := g.Group("", h.needReader)
	r.GET("/", h.domainsPage)
	r.GET("/d/:domain", h.domainPage)
	r.GET("/ops", h.opsPage)
	r.GET("/d/:domain/packages", h.domainPackagesPage)
	r.GET("/d/:domain/r/:repo", h.repositoryPage)
	r.GET("/d/:domain/r/:repo/package", h.packagePage)
	r.GET("/d/:domain/r/:repo/action", h.confirmPage)
	r.POST("/d/:domain/r/:repo/action", h.act, h.csrf)
	r.GET("/d/:domain/r/:repo/settings", h.settingsPage)
	r.POST("/d/:domain/r/:repo/settings", h.editRepository, h.csrf)
	r.POST("/d/:domain/r/:repo/connect", h.connectPublic, h.csrf)
}

// headers sets what every page of the interface sends: no framing, no
// sniffing, and a content security policy that runs no script and loads
// nothing from elsewhere (a README's markup is sanitised, and even markup
// that got through could not run).
func (h *Handler) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		return next(c)
	}
}

// mac returns the keyed digest of s, base64url.
func (h *Handler) mac(purpose, s string) string {
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte(purpose + "\x00" + s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
