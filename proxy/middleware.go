package proxy

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/access"
	"github.com/stockpile-proxy/stockpile/proxy/controlplane"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
	"github.com/stockpile-proxy/stockpile/proxy/sigv4"
	"github.com/stockpile-proxy/stockpile/proxy/token"
)

// Keys of values kept on the echo context.
const (
	formatKey    = "stockpile.format"
	principalKey = "stockpile.principal"
)

// requestIDHeader carries the request id in both directions.
const requestIDHeader = "X-Request-Id"

// requestID returns a new request id: a per-process random prefix and a
// counter, so that the hot path makes no system call for randomness.
func (s *Server) requestID() string {
	n := s.requests.Add(1)
	return s.idPrefix + strconv.FormatUint(n, 36)
}

// accessLog writes one line per request and feeds the request metrics.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req := c.Request()
		id := req.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			id = s.requestID()
		}
		c.Response().Header().Set(requestIDHeader, id)
		trace := &resolver.Trace{}
		c.SetRequest(req.WithContext(resolver.WithTrace(req.Context(), trace)))
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		res := c.Response()
		d := time.Since(start)
		format := "ops"
		switch {
		case strings.HasPrefix(req.URL.Path, "/v1/"):
			format = "controlplane"
		default:
			if f, ok := c.Get(formatKey).(formats.Format); ok {
				format = f.Name()
			}
		}
		size := res.Size + trace.Sent()
		s.metrics.observeRequest(format, res.Status, d, size)
		ctx := req.Context()
		h := s.log.Handler()
		if !h.Enabled(ctx, slog.LevelInfo) {
			return nil
		}
		// A record built here, with no program counter, spares the
		// runtime.Callers that Logger.LogAttrs makes for every line: the
		// access line has no use for its source position.
		rec := slog.NewRecord(start.Add(d), slog.LevelInfo, "request", 0)
		rec.AddAttrs(
			slog.String("request_id", id),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("status", res.Status),
			slog.Int64("bytes", size),
			slog.Duration("duration", d),
			slog.String("format", format),
		)
		if cache, up := trace.Outcome(); cache != "" || up != "" {
			if cache != "" {
				rec.AddAttrs(slog.String("cache", cache))
			}
			if up != "" {
				rec.AddAttrs(slog.String("upstream", up))
			}
		}
		if ref := formats.RepoFrom(c); ref.Domain != "" {
			rec.AddAttrs(slog.String("domain", ref.Domain), slog.String("repo", ref.Repository))
		}
		_ = h.Handle(ctx, rec)
		return nil
	}
}

// validRequestID reports whether a client's X-Request-Id may be used as
// ours: 1 to 64 letters, digits, '-', '_' or '.', so it cannot forge log
// fields or inject text into error bodies.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// signed verifies AWS Signature V4 on the control plane. Without access
// keys every request is let through (the server then listens on loopback).
func (s *Server) signed(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.verifier == nil {
			c.Set(principalKey, "local")
			return next(c)
		}
		req := c.Request()
		if controlplane.IsPublish(req) {
			// The asset may be large: the signature covers its declared
			// SHA-256, which the handler checks the streamed body against.
			key, sum, err := s.verifier.VerifyDeclared(req)
			if err != nil {
				return signatureError(err)
			}
			c.Set(principalKey, key)
			c.Set(controlplane.DeclaredSHA256Key, sum)
			return next(c)
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20+1))
		if err != nil {
			return &controlplane.Error{Type: "ValidationException", Status: 400, Message: "cannot read the request body"}
		}
		if len(body) > 1<<20 {
			return &controlplane.Error{Type: "ValidationException", Status: 413, Message: "the request body is larger than 1 MiB"}
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		key, err := s.verifier.Verify(req, body)
		if err != nil {
			return signatureError(err)
		}
		c.Set(principalKey, key)
		return next(c)
	}
}

// signatureError answers as AWS does, with the types the CLI prints.
func signatureError(err error) error {
	status, code, msg := sigv4.Classify(err)
	return &controlplane.Error{Status: status, Type: code, Message: msg}
}

// repository checks the addressed repository exists, authenticates the
// caller for its domain, and hands the format handlers a RepoRef.
func (s *Server) repository(f formats.Format) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(formatKey, f)
			domain, repo := c.Param("domain"), c.Param("repo")
			req := c.Request()
			user, principal, ok := s.authenticate(req, domain)
			if !ok {
				realm := domain + "/" + repo
				for _, v := range token.Challenge(realm) {
					c.Response().Header().Add("WWW-Authenticate", v)
				}
				return echo.NewHTTPError(http.StatusUnauthorized, "authentication required: send a token from GetAuthorizationToken (Bearer, or Basic with any user name and the token as password)")
			}
			who := &caller{p: principal}
			req = req.WithContext(withCaller(req.Context(), who))
			c.SetRequest(req)
			if err := s.authorizeRead(req, who, domain, repo); err != nil {
				return err
			}
			if err := s.registry.CheckRepository(domain, repo); err != nil {
				return formatsNotFound(err)
			}
			path := "/" + domain + "/" + f.Name() + "/" + repo
			formats.WithRepo(c, formats.RepoRef{
				Domain: domain, Repository: repo, User: user,
				AuthRequired: !s.cfg.Open() && !s.cfg.Auth.AnonymousRead,
				Base:         s.baseURL(req) + path, Path: path,
			})
			formats.WithIntake(c, s.intake)
			if isWrite(req.Method) {
				release, err := s.acquireWrite()
				if err != nil {
					return err
				}
				defer release()
			}
			return next(c)
		}
	}
}

// formatsNotFound turns a missing domain or repository into the format's
// 404 with the model's message.
func formatsNotFound(err error) error {
	return fmt.Errorf("%w: %s", formats.ErrNotFound, err.Error())
}

// authenticate returns the caller's name, and its principal when it
// presented a token, when the request may proceed. A token is refused when
// the access key that minted it is no longer configured or now belongs to
// another principal, and when it was minted before its key's
// tokens_not_before.
func (s *Server) authenticate(req *http.Request, domain string) (string, *access.Principal, bool) {
	if s.cfg.Open() {
		return "local", nil, true
	}
	if tok, ok := token.FromRequest(req); ok {
		if t, ok := s.scoped.Lookup(tok); ok {
			if t.Domain == domain {
				p := s.scopedPrincipal(t)
				return p.ARN, p, true
			}
			return "", nil, false
		}
		if claims, err := s.tokens.Verify(tok); err == nil && claims.Domain == domain {
			if p, ok := s.access.Key(claims.KeyID); ok && p.ARN == claims.Principal && !claims.Issued.Before(p.NotBefore) {
				return p.ARN, p, true
			}
		}
	}
	if s.cfg.Auth.AnonymousRead && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		return "anonymous", nil, true
	}
	return "", nil, false
}
