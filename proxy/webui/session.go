package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/fetchmeta"

	"github.com/labstack/echo/v4"
)

// Cookies of the interface. The session cookie holds the token the visitor
// signed in with, so that a session ends exactly when its token does and a
// restart keeps it; the CSRF cookie holds a random value whose keyed digest
// every state-changing form carries (the synchronizer token pattern, as
// OWASP's CSRF prevention cheat sheet describes it).
const (
	sessionCookie = "stockpile_session"
	csrfCookie    = "stockpile_csrf"
	csrfField     = "csrf"
	visitorKey    = "webui.visitor"
)

// visitor is who is looking at a page.
type visitor struct {
	// Open is true in open mode: no access keys, everything allowed.
	Open bool
	// ID is the signed-in identity, nil for an anonymous visitor.
	ID *Identity
	// CSRF is the token state-changing forms carry.
	CSRF string
}

// SignedIn reports whether the visitor signed in with a token.
func (v *visitor) SignedIn() bool { return v.ID != nil }

func visitorOf(c echo.Context) *visitor {
	v, _ := c.Get(visitorKey).(*visitor)
	if v == nil {
		return &visitor{}
	}
	return v
}

// secure reports whether the interface is served over HTTPS, so that its
// cookies are marked Secure (RFC 6265 section 4.1.2.5).
func (h *Handler) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return h.o.BaseURL != nil && strings.HasPrefix(h.o.BaseURL(r), "https://")
}

func (h *Handler) cookie(r *http.Request, name, value string, expires time.Time) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: Prefix + "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: h.secure(r)}
	if !expires.IsZero() {
		ck.Expires = expires
		ck.MaxAge = max(int(expires.Sub(h.o.Now()).Seconds()), 1)
	}
	return ck
}

// session finds who the visitor is (the token in the session cookie, checked
// anew on every request) and makes sure it has a CSRF cookie.
func (h *Handler) session(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		v := &visitor{Open: h.o.Authorizer == nil}
		if ck, err := req.Cookie(sessionCookie); err == nil && ck.Value != "" && !v.Open {
			if id, ok := h.o.Authenticator.Identify(ck.Value); ok && h.o.Now().Before(id.Expires) {
				v.ID = &id
			} else {
				clear := h.cookie(req, sessionCookie, "", time.Time{})
				clear.MaxAge = -1
				c.SetCookie(clear)
			}
		}
		secret := ""
		if ck, err := req.Cookie(csrfCookie); err == nil && len(ck.Value) >= 22 {
			secret = ck.Value
		} else {
			var b [24]byte
			_, _ = rand.Read(b[:])
			secret = base64.RawURLEncoding.EncodeToString(b[:])
			c.SetCookie(h.cookie(req, csrfCookie, secret, time.Time{}))
		}
		v.CSRF = h.mac("csrf", secret)
		c.Set(visitorKey, v)
		return next(c)
	}
}

// csrf refuses a state-changing request that a browser marked as sent by
// another site (Fetch Metadata's Sec-Fetch-Site, or an Origin that is not
// this host) or that does not carry the CSRF token of the visitor's CSRF
// cookie. A cross-site form post fails both ways: SameSite=Strict keeps the
// cookie back, and the page that built the form cannot know the token.
func (h *Handler) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if fetchmeta.CrossSite(req) {
			return h.refuse(c, http.StatusForbidden, "This form was sent from another site, and is refused.")
		}
		ck, err := req.Cookie(csrfCookie)
		got := c.FormValue(csrfField)
		if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(h.mac("csrf", ck.Value))) != 1 {
			return h.refuse(c, http.StatusForbidden, "This form has no valid CSRF token (it may be stale, or sent from another site): reload the page and try again.")
		}
		return next(c)
	}
}

// needReader sends a visitor who must sign in first to the sign-in page:
// in keyed mode without anonymous_read, nothing else is shown.
func (h *Handler) needReader(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		v := visitorOf(c)
		if v.Open || v.SignedIn() || h.o.AnonymousRead {
			return next(c)
		}
		return c.Redirect(http.StatusSeeOther, Prefix+"/signin?next="+url.QueryEscape(c.Request().URL.RequestURI()))
	}
}

type signinData struct {
	Next, Error string
	Endpoint    string // where the AWS CLI reaches this server
}

func (h *Handler) signinPage(c echo.Context) error {
	return h.render(c, http.StatusOK, "signin", "Sign in", signinData{Next: safeNext(c.QueryParam("next")), Endpoint: h.o.BaseURL(c.Request())})
}

// signin checks the token and keeps it in the session cookie until it
// expires.
func (h *Handler) signin(c echo.Context) error {
	v := visitorOf(c)
	next := safeNext(c.FormValue("next"))
	if v.Open {
		return c.Redirect(http.StatusSeeOther, next)
	}
	tok := strings.TrimSpace(c.FormValue("token"))
	id, ok := h.o.Authenticator.Identify(tok)
	if !ok || !h.o.Now().Before(id.Expires) {
		h.o.Log.Warn("web interface sign-in refused", "remote", c.RealIP())
		return h.render(c, http.StatusUnauthorized, "signin", "Sign in",
			signinData{Next: next, Error: "This token is not valid (or has expired).", Endpoint: h.o.BaseURL(c.Request())})
	}
	h.o.Log.Info("web interface sign-in", "principal", id.Name, "domain", id.Domain)
	c.SetCookie(h.cookie(c.Request(), sessionCookie, tok, id.Expires))
	return c.Redirect(http.StatusSeeOther, next)
}

func (h *Handler) signout(c echo.Context) error {
	ck := h.cookie(c.Request(), sessionCookie, "", time.Time{})
	ck.MaxAge = -1
	c.SetCookie(ck)
	return c.Redirect(http.StatusSeeOther, Prefix+"/signin")
}

// safeNext keeps a post-sign-in redirect inside the interface.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix + "/"
	}
	return next
}
