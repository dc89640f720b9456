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
	"github.com/stockpile-proxy/stockpile/proxy/access"
	"github.com/stockpile-proxy/stockpile/proxy/iam"
	"github.com/stockpile-proxy/stockpile/proxy/model"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
	"github.com/stockpile-proxy/stockpile/proxy/scoped"
	"github.com/stockpile-proxy/stockpile/proxy/token"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// DefaultAccount is the account id Stockpile answers with for every owner
// field when none is configured.
const DefaultAccount = "000000000000"

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
	// Caller returns who is calling: the access key id and its principal's
	// ARN (empty in open mode).
	Caller func(echo.Context) (keyID, principal string)
	// Formats served, for name normalization and manifests.
	Formats []formats.Format
	// Account is the 12-digit account id of every owner field and ARN;
	// empty means DefaultAccount.
	Account string
	// Authorize decides whether the caller may perform action on t (see
	// package access); nil in open mode, where everything is allowed.
	Authorize func(c echo.Context, action string, t access.Target, write bool) error
	// Scoped keeps the scoped long-lived tokens (Stockpile's extension).
	Scoped *scoped.Registry
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
	h.route(g, http.MethodPost, "/domain", "CreateDomain", onDomain, h.createDomain)
	h.route(g, http.MethodGet, "/domain", "DescribeDomain", onDomain, h.describeDomain)
	h.route(g, http.MethodDelete, "/domain", "DeleteDomain", onDomain, h.deleteDomain)
	h.route(g, http.MethodPost, "/domains", "ListDomains", onNothing, h.listDomains)
	h.route(g, http.MethodPost, "/repository", "CreateRepository", onRepository, h.createRepository)
	h.route(g, http.MethodGet, "/repository", "DescribeRepository", onRepository, h.describeRepository)
	h.route(g, http.MethodPut, "/repository", "UpdateRepository", onRepository, h.updateRepository)
	h.route(g, http.MethodDelete, "/repository", "DeleteRepository", onRepository, h.deleteRepository)
	h.route(g, http.MethodPost, "/repositories", "ListRepositories", onNothing, h.listRepositories)
	h.route(g, http.MethodPost, "/domain/repositories", "ListRepositoriesInDomain", onDomain, h.listRepositoriesInDomain)
	h.route(g, http.MethodPost, "/repository/external-connection", "AssociateExternalConnection", onRepository, h.associateExternalConnection)
	h.route(g, http.MethodDelete, "/repository/external-connection", "DisassociateExternalConnection", onRepository, h.disassociateExternalConnection)
	h.route(g, http.MethodGet, "/repository/endpoint", "GetRepositoryEndpoint", onRepository, h.getRepositoryEndpoint)
	h.route(g, http.MethodPost, "/authorization-token", "GetAuthorizationToken", onDomain, h.getAuthorizationToken)
	h.route(g, http.MethodPost, "/packages", "ListPackages", onRepository, h.listPackages)
	h.route(g, http.MethodGet, "/package", "DescribePackage", onPackage, h.describePackage)
	h.route(g, http.MethodPost, "/package/versions", "ListPackageVersions", onPackage, h.listPackageVersions)
	h.route(g, http.MethodGet, "/package/version", "DescribePackageVersion", onPackage, h.describePackageVersion)
	h.route(g, http.MethodPost, "/package/version/assets", "ListPackageVersionAssets", onPackage, h.listPackageVersionAssets)
	h.route(g, http.MethodPost, "/package/versions/update_status", "UpdatePackageVersionsStatus", onPackage, h.updatePackageVersionsStatus)
	h.route(g, http.MethodPost, "/package/versions/delete", "DeletePackageVersions", onPackage, h.deletePackageVersions)
	h.route(g, http.MethodPost, "/package/versions/dispose", "DisposePackageVersions", onPackage, h.disposePackageVersions)
	h.route(g, http.MethodPost, "/package/versions/copy", "CopyPackageVersions", onCopy, h.copyPackageVersions)
	h.route(g, http.MethodPost, "/package", "PutPackageOriginConfiguration", onPackage, h.putPackageOriginConfiguration)
	h.route(g, http.MethodDelete, "/package", "DeletePackage", onPackage, h.deletePackage)
	h.route(g, http.MethodGet, "/package/version/asset", "GetPackageVersionAsset", onPackage, h.getPackageVersionAsset)
	h.route(g, http.MethodGet, "/package/version/readme", "GetPackageVersionReadme", onPackage, h.getPackageVersionReadme)
	h.route(g, http.MethodPost, "/package/version/dependencies", "ListPackageVersionDependencies", onPackage, h.listPackageVersionDependencies)
	h.route(g, http.MethodPost, publishPath, "PublishPackageVersion", onPackage, h.publishPackageVersion)
	h.route(g, http.MethodPost, "/package-group", "CreatePackageGroup", onGroup, h.createPackageGroup)
	h.route(g, http.MethodGet, "/package-group", "DescribePackageGroup", onGroup, h.describePackageGroup)
	h.route(g, http.MethodPut, "/package-group", "UpdatePackageGroup", onGroup, h.updatePackageGroup)
	h.route(g, http.MethodDelete, "/package-group", "DeletePackageGroup", onGroup, h.deletePackageGroup)
	h.route(g, http.MethodPut, "/package-group-origin-configuration", "UpdatePackageGroupOriginConfiguration", onGroup, h.updatePackageGroupOriginConfiguration)
	h.route(g, http.MethodPost, "/package-groups", "ListPackageGroups", onDomain, h.listPackageGroups)
	h.route(g, http.MethodPost, "/package-groups/sub-groups", "ListSubPackageGroups", onGroup, h.listSubPackageGroups)
	h.route(g, http.MethodGet, "/get-associated-package-group", "GetAssociatedPackageGroup", onPackage, h.getAssociatedPackageGroup)
	h.route(g, http.MethodGet, "/list-associated-packages", "ListAssociatedPackages", onGroup, h.listAssociatedPackages)
	h.route(g, http.MethodGet, "/package-group-allowed-repositories", "ListAllowedRepositoriesForGroup", onGroup, h.listAllowedRepositoriesForGroup)
	h.route(g, http.MethodPut, "/domain/permissions/policy", "PutDomainPermissionsPolicy", onDomainInBody, h.putDomainPermissionsPolicy)
	h.route(g, http.MethodGet, "/domain/permissions/policy", "GetDomainPermissionsPolicy", onDomain, h.getDomainPermissionsPolicy)
	h.route(g, http.MethodDelete, "/domain/permissions/policy", "DeleteDomainPermissionsPolicy", onDomain, h.deleteDomainPermissionsPolicy)
	h.route(g, http.MethodPut, "/repository/permissions/policy", "PutRepositoryPermissionsPolicy", onRepository, h.putRepositoryPermissionsPolicy)
	h.route(g, http.MethodGet, "/repository/permissions/policy", "GetRepositoryPermissionsPolicy", onRepository, h.getRepositoryPermissionsPolicy)
	h.route(g, http.MethodDelete, "/repository/permissions/policies", "DeleteRepositoryPermissionsPolicy", onRepository, h.deleteRepositoryPermissionsPolicy)
	h.route(g, http.MethodPost, "/stockpile/scoped-token", "stockpile:CreateScopedToken", onDomain, h.createScopedToken)
	h.route(g, http.MethodPost, "/stockpile/scoped-tokens", "stockpile:ListScopedTokens", onDomain, h.listScopedTokens)
	h.route(g, http.MethodDelete, "/stockpile/scoped-token", "stockpile:RevokeScopedToken", onDomain, h.revokeScopedToken)
	h.route(g, http.MethodGet, "/stockpile/cooldown", "stockpile:GetRepositoryCooldown", onRepository, h.getRepositoryCooldown)
	h.route(g, http.MethodPut, "/stockpile/cooldown", "stockpile:PutRepositoryCooldown", onRepository, h.putRepositoryCooldown)
	h.route(g, http.MethodGet, "/stockpile/package-group-cooldown", "stockpile:GetPackageGroupCooldown", onGroup, h.getGroupCooldown)
	h.route(g, http.MethodPut, "/stockpile/package-group-cooldown", "stockpile:PutPackageGroupCooldown", onGroup, h.putGroupCooldown)
	h.route(g, http.MethodGet, "/stockpile/held", "stockpile:ListHeldPackageVersions", onPackage, h.listHeld)
	h.route(g, http.MethodPost, "/tag", "TagResource", onARN, h.tagResource)
	h.route(g, http.MethodPost, "/untag", "UntagResource", onARN, h.untagResource)
	h.route(g, http.MethodPost, "/tags", "ListTagsForResource", onARN, h.listTagsForResource)
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

func (h *Handler) account() string {
	if h.Account == "" {
		return DefaultAccount
	}
	return h.Account
}

func (h *Handler) arns() iam.ARNs { return iam.ARNs{Region: Region, Account: h.account()} }

// query reads a required query parameter.
func query(c echo.Context, name string) (string, error) {
	v := c.QueryParam(name)
	if v == "" {
		return "", validation("the %s parameter is required", name)
	}
	return v, nil
}

// checkOwner refuses a domain-owner other than Stockpile's account.
func (h *Handler) checkOwner(c echo.Context) error {
	if o := c.QueryParam("domain-owner"); o != "" && o != h.account() {
		return validation("domain-owner %s is not this server's account %s", o, h.account())
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
