// Package controlplane serves CodeArtifact's REST-JSON control plane under
// /v1/, with the same paths, query parameters, bodies, result shapes and
// error types, so that `aws codeartifact … --endpoint-url` drives Stockpile.
// Requests reach it already authenticated (see the sigv4 middleware in proxy).
package controlplane

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
	"github.com/stockpile-proxy/stockpile/proxy/token"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// Account is the account id Stockpile answers with for every owner field.
const Account = "000000000000"

// Region is used in ARNs.
const Region = "stockpile"

// Formats the control plane accepts, as CodeArtifact names them.
var packageFormats = []string{"npm", "pypi", "maven", "nuget", "generic", "ruby", "swift", "cargo"}

// Handler serves the control plane.
type Handler struct {
	Registry *model.Registry
	Resolver *resolver.Resolver
	Tokens   *token.Issuer
	// TokenTTL is the lifetime of a token when the caller asks for none.
	TokenTTL time.Duration
	// BaseURL returns the public base URL for a request (no trailing slash).
	BaseURL func(*http.Request) string
	// Principal returns who is calling (the access key id).
	Principal func(echo.Context) string
	// Formats served, for name normalization and manifests.
	Formats []formats.Format
	// Collect asks the garbage collector to run soon (after a dispose or a
	// delete); nil when there is none.
	Collect func()
	// MaxPublishSize bounds the asset of PublishPackageVersion; a larger
	// declared Content-Length is refused before it is read (the engine
	// bounds what is read).
	MaxPublishSize int64
}

// normalizeVersion puts a version in its format's canonical form.
func (h *Handler) normalizeVersion(p formats.Package, v string) string {
	for _, f := range h.Formats {
		if n, ok := f.(formats.VersionNormalizer); ok && f.Name() == p.Format {
			return n.NormalizeVersion(p, v)
		}
	}
	return v
}

// normalize puts a package name in its format's canonical form.
func (h *Handler) normalize(p formats.Package) formats.Package {
	for _, f := range h.Formats {
		if n, ok := f.(formats.Normalizer); ok && f.Name() == p.Format {
			return n.Normalize(p)
		}
	}
	return p
}

// checkPackage refuses, with 400, a package that cannot exist: one its
// format's own rules refuse (formats.NameChecker; generic's here), or whose
// names cannot be part of a record key (resolver.CheckNames).
func (h *Handler) checkPackage(domain string, p formats.Package) error {
	var nc formats.NameChecker
	if p.Format == "generic" {
		nc = genericNames{}
	}
	for _, f := range h.Formats {
		if c, ok := f.(formats.NameChecker); ok && f.Name() == p.Format {
			nc = c
		}
	}
	if nc != nil {
		if err := nc.CheckName(p); err != nil {
			return err
		}
	}
	return resolver.CheckNames(domain, p, "", "")
}

// Mount adds the operations to g, which is rooted at /v1.
func (h *Handler) Mount(g *echo.Group) {
	g.POST("/domain", h.createDomain)
	g.GET("/domain", h.describeDomain)
	g.DELETE("/domain", h.deleteDomain)
	g.POST("/domains", h.listDomains)
	g.POST("/repository", h.createRepository)
	g.GET("/repository", h.describeRepository)
	g.PUT("/repository", h.updateRepository)
	g.DELETE("/repository", h.deleteRepository)
	g.POST("/repositories", h.listRepositories)
	g.POST("/domain/repositories", h.listRepositoriesInDomain)
	g.POST("/repository/external-connection", h.associateExternalConnection)
	g.DELETE("/repository/external-connection", h.disassociateExternalConnection)
	g.GET("/repository/endpoint", h.getRepositoryEndpoint)
	g.POST("/authorization-token", h.getAuthorizationToken)
	g.POST("/packages", h.listPackages)
	g.GET("/package", h.describePackage)
	g.POST("/package/versions", h.listPackageVersions)
	g.GET("/package/version", h.describePackageVersion)
	g.POST("/package/version/assets", h.listPackageVersionAssets)
	g.POST("/package/versions/update_status", h.updatePackageVersionsStatus)
	g.POST("/package/versions/delete", h.deletePackageVersions)
	g.POST("/package/versions/dispose", h.disposePackageVersions)
	g.POST("/package/versions/copy", h.copyPackageVersions)
	g.POST("/package", h.putPackageOriginConfiguration)
	g.DELETE("/package", h.deletePackage)
	g.GET("/package/version/asset", h.getPackageVersionAsset)
	g.GET("/package/version/readme", h.getPackageVersionReadme)
	g.POST("/package/version/dependencies", h.listPackageVersionDependencies)
	g.POST("/package/version/publish", h.publishPackageVersion)
	g.POST("/package-group", h.createPackageGroup)
	g.GET("/package-group", h.describePackageGroup)
	g.PUT("/package-group", h.updatePackageGroup)
	g.DELETE("/package-group", h.deletePackageGroup)
	g.PUT("/package-group-origin-configuration", h.updatePackageGroupOriginConfiguration)
	g.POST("/package-groups", h.listPackageGroups)
	g.POST("/package-groups/sub-groups", h.listSubPackageGroups)
	g.GET("/get-associated-package-group", h.getAssociatedPackageGroup)
	g.GET("/list-associated-packages", h.listAssociatedPackages)
	g.GET("/package-group-allowed-repositories", h.listAllowedRepositoriesForGroup)
	g.POST("/tag", h.tagResource)
	g.POST("/untag", h.untagResource)
	g.POST("/tags", h.listTagsForResource)
	g.Any("/*", func(c echo.Context) error {
		return &Error{Type: "ValidationException", Status: 400, Reason: "UNKNOWN_OPERATION",
			Message: fmt.Sprintf("Stockpile does not implement %s %s", c.Request().Method, c.Request().URL.Path)}
	})
}

// epoch renders a time as CodeArtifact does: seconds since the epoch.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Time(t).UnixMilli())/1000, 'f', 3, 64)), nil
}

func domainARN(d string) string {
	return fmt.Sprintf("arn:aws:codeartifact:%s:%s:domain/%s", Region, Account, d)
}

func repoARN(d, r string) string {
	return fmt.Sprintf("arn:aws:codeartifact:%s:%s:repository/%s/%s", Region, Account, d, r)
}

// query reads a required query parameter.
func query(c echo.Context, name string) (string, error) {
	v := c.QueryParam(name)
	if v == "" {
		return "", validation("the %s parameter is required", name)
	}
	return v, nil
}

// checkOwner refuses a domain-owner other than Stockpile's account.
func checkOwner(c echo.Context) error {
	if o := c.QueryParam("domain-owner"); o != "" && o != Account {
		return validation("domain-owner %s is not this server's account %s", o, Account)
	}
	return nil
}

// decodeBody reads an optional JSON body into v.
func decodeBody(c echo.Context, v any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<20))
	if err != nil {
		return validation("cannot read the request body: %v", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &Error{Type: "ValidationException", Status: 400, Reason: "CANNOT_PARSE", Message: "the request body is not valid JSON: " + err.Error()}
	}
	return nil
}

// page cuts a sorted list of names for max-results/next-token pagination.
// Tokens are opaque: the base64 of the last name returned.
func page[T any](c echo.Context, items []T, name func(T) string, maxFromBody int, tokenFromBody string) ([]T, string, error) {
	max := 100
	if s := c.QueryParam("max-results"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, "", validation("max-results %q is not a number", s)
		}
		max = n
	} else if maxFromBody != 0 {
		max = maxFromBody
	}
	if max < 1 || max > 1000 {
		return nil, "", validation("max-results must be between 1 and 1000")
	}
	tok := c.QueryParam("next-token")
	if tok == "" {
		tok = tokenFromBody
	}
	start := 0
	if tok != "" {
		last, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return nil, "", validation("next-token is not valid")
		}
		for start < len(items) && name(items[start]) <= string(last) {
			start++
		}
	}
	end := min(start+max, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(name(items[end-1])))
	}
	return items[start:end], next, nil
}

// isValidationOr passes model errors through (the server maps them) and
// keeps ours.
func asError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return err
}

func validFormat(f string) bool {
	for _, x := range packageFormats {
		if x == f {
			return true
		}
	}
	return false
}

func connectionFormat(name string) string {
	c, _ := upstream.Lookup(name)
	return c.Format
}
