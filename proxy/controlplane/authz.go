package controlplane

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/access"
)

// scope says which resource an operation acts on, as the CodeArtifact
// service authorization reference lists it for each action
// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodeartifact.html).
type scope int

const (
	onNothing      scope = iota // ListDomains, ListRepositories: resource "*"
	onDomain                    // ?domain=
	onDomainInBody              // PutDomainPermissionsPolicy: {"domain": ...}
	onRepository                // ?domain=&repository=
	onPackage                   // ?domain=&repository=&format=&namespace=&package=
	onGroup                     // ?domain=&package-group=
	onARN                       // ?resourceArn= (tags)
	onCopy                      // ?domain=&destination-repository= (and the source)
)

// route registers one operation: handler, behind the authorization of
// codeartifact:name on the resource scope names.
func (h *Handler) route(g *echo.Group, method, path, name string, sc scope, handler echo.HandlerFunc) {
	g.Add(method, path, func(c echo.Context) error {
		if h.Authorize != nil {
			if err := h.authorize(c, name, sc); err != nil {
				return err
			}
		}
		return handler(c)
	})
}

// authorize checks the caller may perform codeartifact:name (and what the
// operation needs besides) on the resource the request names. Parameters
// missing here are left for the handler to report.
func (h *Handler) authorize(c echo.Context, name string, sc scope) error {
	action := "codeartifact:" + name
	if service, op, ok := strings.Cut(name, ":"); ok { // Stockpile's own operations
		action, name = service+":"+op, op
	}
	write := !(strings.HasPrefix(name, "Describe") || strings.HasPrefix(name, "List") || strings.HasPrefix(name, "Get"))
	q := c.QueryParam
	domain := q("domain")
	t := access.Target{Domain: domain, Resource: "*"}
	a := h.arns()
	switch sc {
	case onNothing:
		t.Domain = ""
	case onDomain:
		t.Resource = a.Domain(domain)
	case onDomainInBody:
		t.Domain = peekDomain(c)
		t.Resource = a.Domain(t.Domain)
	case onRepository:
		t.Repository = q("repository")
		t.Resource = a.Repository(domain, t.Repository)
	case onPackage:
		t.Repository = q("repository")
		p := h.normalize(formats.Package{Format: q("format"), Namespace: q("namespace"), Name: q("package")})
		t.Resource = a.Package(domain, t.Repository, p.Format, p.Namespace, p.Name)
	case onGroup:
		t.Resource = a.PackageGroup(domain, q("package-group"))
	case onARN:
		res, err := parseARN(q("resourceArn"))
		if err != nil {
			return err
		}
		t.Domain, t.Repository, t.Resource = res.domain, res.repository, q("resourceArn")
	case onCopy:
		// Copying reads the source (ReadFromRepository, as in
		// CodeArtifact) and writes the destination.
		src := access.Target{Domain: domain, Repository: q("source-repository"), Resource: a.Repository(domain, q("source-repository"))}
		if err := h.Authorize(c, "codeartifact:ReadFromRepository", src, false); err != nil {
			return err
		}
		t.Repository = q("destination-repository")
		t.Resource = a.Repository(domain, t.Repository)
	}
	switch name {
	case "PutDomainPermissionsPolicy", "PutRepositoryPermissionsPolicy":
		// The policy being replaced does not decide whether it may be
		// replaced, so that its owner cannot lock itself out.
		t.SkipResourcePolicy = true
	case "GetAuthorizationToken":
		// As in AWS, a token also needs sts:GetServiceBearerToken, which
		// only identity policies grant.
		sts := access.Target{Resource: "*", SkipResourcePolicy: true}
		if err := h.Authorize(c, "sts:GetServiceBearerToken", sts, false); err != nil {
			return err
		}
	}
	return h.Authorize(c, action, t, write)
}

// peekDomain reads the domain member of a JSON body and puts the body back
// for the handler. The body was already read once and bounded by the
// signature middleware.
func peekDomain(c echo.Context) string {
	req := c.Request()
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	req.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	var v struct {
		Domain string `json:"domain"`
	}
	_ = json.Unmarshal(body, &v)
	return v.Domain
}
