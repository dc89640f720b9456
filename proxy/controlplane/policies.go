package controlplane

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/proxy/model"
)

// policyJSON is CodeArtifact's ResourcePolicy shape.
type policyJSON struct {
	ResourceArn string `json:"resourceArn"`
	Revision    string `json:"revision"`
	Document    string `json:"document"`
}

// policyResult answers {policy} for the result of a call, or its error.
func policyResult(c echo.Context, arn string, p model.PermissionsPolicy, err error) error {
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"policy": policyJSON{ResourceArn: arn, Revision: p.Revision, Document: p.Document}})
}

// revisionParam returns the expected revision, nil when none is given.
func revisionParam(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// putDomainPolicyBody is PutDomainPermissionsPolicy's input: unlike most
// operations, it carries the domain in the body.
type putDomainPolicyBody struct {
	Domain         string `json:"domain"`
	DomainOwner    string `json:"domainOwner"`
	PolicyRevision string `json:"policyRevision"`
	PolicyDocument string `json:"policyDocument"`
}

// PutDomainPermissionsPolicy: PUT /v1/domain/permissions/policy with
// {domain, domainOwner?, policyRevision?, policyDocument}.
func (h *Handler) putDomainPermissionsPolicy(c echo.Context) error {
	var body putDomainPolicyBody
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if body.Domain == "" {
		return validation("the domain member is required")
	}
	if body.DomainOwner != "" && body.DomainOwner != h.account() {
		return validation("domainOwner %s is not this server's account %s", body.DomainOwner, h.account())
	}
	if body.PolicyDocument == "" {
		return validation("the policyDocument member is required")
	}
	p, err := h.Registry.PutDomainPolicy(c.Request().Context(), body.Domain, body.PolicyDocument, revisionParam(body.PolicyRevision))
	return policyResult(c, h.arns().Domain(body.Domain), p, err)
}

// GetDomainPermissionsPolicy: GET /v1/domain/permissions/policy?domain=
func (h *Handler) getDomainPermissionsPolicy(c echo.Context) error {
	domain, err := h.domainParam(c)
	if err != nil {
		return err
	}
	p, err := h.Registry.DomainPolicy(domain)
	return policyResult(c, h.arns().Domain(domain), p, err)
}

// DeleteDomainPermissionsPolicy: DELETE /v1/domain/permissions/policy?domain=&policy-revision=
func (h *Handler) deleteDomainPermissionsPolicy(c echo.Context) error {
	domain, err := h.domainParam(c)
	if err != nil {
		return err
	}
	p, err := h.Registry.DeleteDomainPolicy(c.Request().Context(), domain, revisionParam(c.QueryParam("policy-revision")))
	return policyResult(c, h.arns().Domain(domain), p, err)
}

// PutRepositoryPermissionsPolicy: PUT /v1/repository/permissions/policy?domain=&repository=
// with {policyRevision?, policyDocument}.
func (h *Handler) putRepositoryPermissionsPolicy(c echo.Context) error {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return err
	}
	var body struct {
		PolicyRevision string `json:"policyRevision"`
		PolicyDocument string `json:"policyDocument"`
	}
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if body.PolicyDocument == "" {
		return validation("the policyDocument member is required")
	}
	p, err := h.Registry.PutRepositoryPolicy(c.Request().Context(), domain, repo, body.PolicyDocument, revisionParam(body.PolicyRevision))
	return policyResult(c, h.arns().Repository(domain, repo), p, err)
}

// GetRepositoryPermissionsPolicy: GET /v1/repository/permissions/policy?domain=&repository=
func (h *Handler) getRepositoryPermissionsPolicy(c echo.Context) error {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return err
	}
	p, err := h.Registry.RepositoryPolicy(domain, repo)
	return policyResult(c, h.arns().Repository(domain, repo), p, err)
}

// DeleteRepositoryPermissionsPolicy: DELETE /v1/repository/permissions/policies?domain=&repository=&policy-revision=
// (the plural is CodeArtifact's).
func (h *Handler) deleteRepositoryPermissionsPolicy(c echo.Context) error {
	domain, repo, err := h.repoParams(c)
	if err != nil {
		return err
	}
	p, err := h.Registry.DeleteRepositoryPolicy(c.Request().Context(), domain, repo, revisionParam(c.QueryParam("policy-revision")))
	return policyResult(c, h.arns().Repository(domain, repo), p, err)
}

// domainParam reads the domain and domain-owner query parameters.
func (h *Handler) domainParam(c echo.Context) (string, error) {
	domain, err := query(c, "domain")
	if err != nil {
		return "", err
	}
	return domain, h.checkOwner(c)
}
